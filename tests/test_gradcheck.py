"""rnn_ref.gradcheck: numerical gradients of known functions, no mutation, rel_error's properties."""

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
