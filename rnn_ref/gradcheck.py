"""Gradient checking: centred finite differences and the course's relative error.

Nothing here mutates the caller's arrays: each probe perturbs a private copy.
"""

import numpy as np


def rel_error(a, b, eps=1e-12):
    """Relative error used throughout the course: max |a - b| / max(|a| + |b|, eps), elementwise.

    Returns a float; 0.0 when both arrays are identical (including all zeros).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))


def numerical_gradient(f, x, h=1e-6):
    """Centred-difference gradient of the scalar function ``f`` at ``x``.

    f: callable taking an array shaped like x and returning a float.
    x: array of any shape; it is copied, never modified.
    Returns an array of x's shape: (f(x + h e_i) - f(x - h e_i)) / (2h) for each entry i.
    """
    x = np.array(x, dtype=np.float64)  # private copy
    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        plus = float(f(x.copy()))
        flat_x[i] = old - h
        minus = float(f(x.copy()))
        flat_x[i] = old
        flat_g[i] = (plus - minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-6):
    """Centred-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    f: callable taking an array shaped like x and returning an array shaped like dout.
    Returns an array of x's shape.
    """
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_gradient(lambda v: np.sum(np.asarray(f(v), dtype=np.float64) * dout), x, h)


def check_layer_gradients(forward, backward, inputs, dout, h=1e-6):
    """Compare a layer's analytic gradients with centred differences for every input.

    forward: callable(*inputs) -> (out, cache); backward: callable(dout, cache) -> tuple of grads
    in the order of ``inputs``. ``out`` may be an array or a tuple of arrays, then ``dout`` is a
    tuple of the same length. Returns a list of relative errors, one per input.
    """
    inputs = [np.array(a, dtype=np.float64) for a in inputs]
    out, cache = forward(*inputs)
    grads = backward(dout, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    outs = out if isinstance(out, tuple) else (out,)
    douts = dout if isinstance(dout, tuple) else (dout,)
    if len(outs) != len(douts):
        raise ValueError(f"forward returned {len(outs)} outputs but {len(douts)} upstream gradients were given")

    def loss(k, value):
        args = [a.copy() for a in inputs]
        args[k] = value
        result, _ = forward(*args)
        result = result if isinstance(result, tuple) else (result,)
        return sum(float(np.sum(r * d)) for r, d in zip(result, douts))

    errors = []
    for k, analytic in enumerate(grads):
        numeric = numerical_gradient(lambda v, k=k: loss(k, v), inputs[k], h)
        errors.append(rel_error(analytic, numeric))
    return errors
