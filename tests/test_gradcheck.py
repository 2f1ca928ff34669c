"""rnn_ref.gradcheck: numerical gradients of known functions, the fourth-order option, no mutation,
rel_error's properties, and check_layer_gradients' extended-precision loss."""

import numpy as np
import pytest

from rnn_ref.gradcheck import check_layer_gradients, numerical_gradient, numerical_gradient_array, rel_error


def test_numerical_gradient_of_known_functions(rng):
    A = rng.normal(size=(4, 4))
    x = rng.normal(size=4)
    cases = [
        (lambda v: np.sum(v**2), 2 * x),
        (lambda v: np.sum(np.sin(v)), np.cos(x)),
        (lambda v: v @ A @ v, (A + A.T) @ x),
    ]
    for f, exact in cases:
        assert rel_error(numerical_gradient(f, x), exact) < 1e-7
    M = rng.normal(size=(2, 3))  # any shape, gradient has the input's shape
    assert numerical_gradient(lambda v: np.sum(np.exp(v)), M).shape == (2, 3)
    assert rel_error(numerical_gradient(lambda v: np.sum(np.exp(v)), M), np.exp(M)) < 1e-7


def test_numerical_gradient_array_is_the_vector_jacobian_product(rng):
    W, x, dout = rng.normal(size=(3, 5)), rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    assert rel_error(numerical_gradient_array(lambda v: v @ W, x, dout), dout @ W.T) < 1e-7
    assert rel_error(numerical_gradient_array(lambda v: np.tanh(v), x, dout[:, :3]), dout[:, :3] * (1 - np.tanh(x) ** 2)) < 1e-7


def test_the_caller_array_is_never_modified(rng, unchanged):
    x = rng.normal(size=(3, 2))
    check = unchanged(x)

    def f(v):
        value = np.sum(v**3)
        v += 100  # a careless function writing into its argument must not reach the caller
        return value

    grad = numerical_gradient(f, x)
    check()
    assert rel_error(grad, 3 * x**2) < 1e-7
    grad = numerical_gradient(f, x, order=4)
    check()
    assert rel_error(grad, 3 * x**2) < 1e-10


def test_default_is_the_plain_centred_difference(rng):
    """order=2 and h=1e-6 by default, bit for bit what the book's formula gives."""
    x = rng.normal(size=(2, 3))
    f = lambda v: np.sum(np.sin(v) * v)
    expected = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i], minus[i] = x[i] + 1e-6, x[i] - 1e-6
        expected[i] = (f(plus) - f(minus)) / (2 * 1e-6)
    assert np.array_equal(numerical_gradient(f, x), expected)
    assert np.array_equal(numerical_gradient(f, x, 1e-6), expected)
    assert np.array_equal(numerical_gradient(f, x, h=1e-6, order=2), expected)


def test_order_4_is_richardson_and_more_accurate(rng):
    x = rng.normal(size=(3, 4))
    f, exact = lambda v: np.sum(np.exp(v)), np.exp(x)
    h = 1e-3
    second, fourth = numerical_gradient(f, x, h), numerical_gradient(f, x, h, order=4)
    # (4 D(h) - D(2h)) / 3, exactly
    assert np.array_equal(fourth, (4 * second - numerical_gradient(f, x, 2 * h)) / 3)
    # same step: the h^2 term (relative error h^2 / 12 here) is gone
    assert rel_error(second, exact) > 1e-8
    assert rel_error(fourth, exact) < 1e-10
    assert rel_error(fourth, exact) < 1e-3 * rel_error(second, exact)
    # each order at its default step (1e-6 and 1e-3): fourth order still wins, by round-off
    assert np.array_equal(numerical_gradient(f, x, order=4), fourth)
    assert rel_error(numerical_gradient(f, x, order=4), exact) < rel_error(numerical_gradient(f, x), exact)
    with pytest.raises(ValueError, match="order must be 2 or 4"):
        numerical_gradient(f, x, order=3)


def test_rel_error_properties(rng):
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    assert rel_error(a, a) == 0.0
    assert rel_error(np.zeros(5), np.zeros(5)) == 0.0
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    assert rel_error(a, b) == rel_error(b, a)
    assert 0 < rel_error(a, b) <= 1
    assert rel_error(a, -a) == 1.0
    assert rel_error(1e-8 * a, 1e-8 * b) == pytest.approx(rel_error(a, b), rel=1e-12)  # scale free
    assert rel_error(a, a * (1 + 1e-9)) == pytest.approx(1e-9 / (2 + 1e-9), rel=1e-6)
    assert rel_error([1.0, 2.0], [1.0, 2.0 + 4e-6]) == pytest.approx(1e-6, rel=1e-6)  # lists work
    with pytest.raises(ValueError, match="equal shapes"):
        rel_error(a, b.T)


def _affine_forward(x, W, b):
    return x @ W + b, (x, W)


def _affine_backward(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def test_check_layer_gradients_passes_right_and_catches_wrong(rng):
    x, W, b, dout = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 2))
    assert max(check_layer_gradients(_affine_forward, _affine_backward, [x, W, b], dout)) < 1e-7

    def wrong_backward(dout, cache):
        dx, dW, db = _affine_backward(dout, cache)
        return dx, dW, 2 * db  # a bias gradient counted twice

    errors = check_layer_gradients(_affine_forward, wrong_backward, [x, W, b], dout)
    assert max(errors[:2]) < 1e-7 and errors[2] > 0.1
    def two_outputs(*args):
        out, cache = _affine_forward(*args)
        return (out, out), cache

    with pytest.raises(ValueError, match="upstream gradients"):
        check_layer_gradients(two_outputs, _affine_backward, [x, W, b], dout)


def _float64_check(forward, backward, inputs, dout):
    """What a check with the loss in plain float64 gives (check_layer_gradients without the
    extended precision): one relative error per input."""
    grads = backward(dout, forward(*inputs)[1])
    errors = []
    for k, analytic in enumerate(grads):
        def loss(v, k=k):
            return float(np.sum(forward(*inputs[:k], v, *inputs[k + 1:])[0] * dout))
        errors.append(rel_error(analytic, numerical_gradient(loss, inputs[k])))
    return errors


@pytest.mark.skipif(np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
                    reason="numpy's longdouble is plain float64 on this platform")
def test_check_layer_gradients_uses_extended_precision(unchanged):
    # one weight row meets a small input, so its gradient entries are near 1e-3
    x = np.array([[0.9, -1.3, 2e-3]])
    W = np.array([[0.5, -1.2, 0.8, 1.1], [1.4, 0.3, -0.7, 0.6], [-0.9, 1.0, 0.4, -1.3]])
    b = np.array([0.2, -0.4, 1.0, 0.3])
    dout = np.array([[0.8, -1.1, 0.6, 1.4]])
    check = unchanged(x, W, b, dout)
    errors = check_layer_gradients(_affine_forward, _affine_backward, [x, W, b], dout)
    check()
    assert max(errors) < 1e-9, errors
    # the loss in float64: its round-off (about 1e-16 / 1e-6 = 1e-10 absolute per difference)
    # is 1e-7 of the small entries
    assert _float64_check(_affine_forward, _affine_backward, [x, W, b], dout)[1] > 1e-8


def test_check_layer_gradients_rejects_a_gradient_of_the_wrong_shape(rng):
    x, W, b, dout = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 2))

    def transposed_backward(dout, cache):
        dx, dW, db = _affine_backward(dout, cache)
        return dx, dW.T, db

    with pytest.raises(ValueError, match="gradient 1 has shape"):
        check_layer_gradients(_affine_forward, transposed_backward, [x, W, b], dout)
