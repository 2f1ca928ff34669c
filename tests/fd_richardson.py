"""Finite differences of a scalar loss accurate enough for elementwise relative errors below 1e-7.

For layers, conftest's ``gradient_errors`` evaluates sum(out * dout) in extended precision. A
loss that comes back as a Python float (temporal_softmax_loss, a Jacobian's row sum) cannot be
widened that way; this helper removes the truncation error instead. A centred difference D(h)
has error c h^2 + O(h^4); the Richardson combination (4 D(h) - D(2h)) / 3 cancels the h^2
term. With h = 1e-3 its truncation error is O(1e-12) and its round-off about 1e-13, so even
gradient entries near 1e-5 are checked to 1e-7 relative error, which plain centred differences
(h = 1e-6: round-off about 1e-10) cannot do. Built on rnn_ref.gradcheck.numerical_gradient, so
probing never mutates the inputs.
"""

from rnn_ref.gradcheck import numerical_gradient


def richardson_gradient(f, x, h=1e-3):
    """Fourth-order accurate gradient of the scalar function f at x (an array of x's shape)."""
    return (4 * numerical_gradient(f, x, h) - numerical_gradient(f, x, 2 * h)) / 3
