"""Finite differences accurate enough for elementwise relative errors below 1e-7.

A centred difference D(h) has error c h^2 + O(h^4); the Richardson combination
(4 D(h) - D(2h)) / 3 cancels the h^2 term. With h = 1e-3 its truncation error is O(1e-12) and
its round-off about 1e-13, so even gradient entries near 1e-5 are checked to 1e-7 relative
error, which plain centred differences (h = 1e-6: round-off about 1e-10) cannot do.
Built on rnn_ref.gradcheck.numerical_gradient, so the probing never mutates the inputs.
"""

import numpy as np

from rnn_ref.gradcheck import numerical_gradient, rel_error


def richardson_gradient(f, x, h=1e-3):
    """Fourth-order accurate gradient of the scalar function f at x (same shape as x)."""
    return (4 * numerical_gradient(f, x, h) - numerical_gradient(f, x, 2 * h)) / 3


def layer_gradient_errors(forward, backward, inputs, dout, h=1e-3):
    """Like rnn_ref.gradcheck.check_layer_gradients, with Richardson differences.

    forward(*inputs) -> (out, cache); backward(dout, cache) -> grads in the order of inputs.
    Returns one relative error per input.
    """
    inputs = [np.array(a, dtype=np.float64) for a in inputs]
    out, cache = forward(*inputs)
    grads = backward(dout, cache)

    def loss(k, value):
        args = [a.copy() for a in inputs]
        args[k] = value
        return float(np.sum(forward(*args)[0] * dout))

    return [rel_error(g, richardson_gradient(lambda v, k=k: loss(k, v), inputs[k], h))
            for k, g in enumerate(grads)]
