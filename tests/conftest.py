"""Shared fixtures: a seeded random generator, well-conditioned layer parameters, and a
finite-difference gradient check precise enough for the course's 1e-7 relative error."""

import numpy as np
import pytest

from rnn_ref.gradcheck import numerical_gradient, rel_error

GATES = {"elman": 1, "lstm": 4, "gru": 3}  # weight blocks per layer kind


@pytest.fixture
def rng():
    """A numpy Generator with a fixed seed (a fresh one for every test)."""
    return np.random.default_rng(1234)


def random_params(kind, D, H, rng, dtype=np.float64):
    """Parameters for ``elman_forward``/``lstm_forward``/``gru_forward`` (keyword dict).

    Weights N(0, 1/fan_in), biases N(0, 0.25): pre-activations of order one, so gradients
    neither vanish nor saturate in short test sequences.
    """
    G = GATES[kind] * H
    params = {"Wx": rng.normal(size=(D, G)) / np.sqrt(D), "Wh": rng.normal(size=(H, G)) / np.sqrt(H)}
    if kind == "gru":
        params["bx"], params["bh"] = 0.5 * rng.normal(size=G), 0.5 * rng.normal(size=G)
    else:
        params["b"] = 0.5 * rng.normal(size=G)
    return {k: v.astype(dtype) for k, v in params.items()}


@pytest.fixture(name="random_params")
def random_params_fixture():
    """``random_params(kind, D, H, rng, dtype=float64)``: see :func:`random_params`."""
    return random_params


def gradient_errors(forward, backward, inputs, dout, h=1e-6):
    """Relative errors (one per input) between ``backward``'s gradients and centred differences.

    forward(*inputs) -> (out, cache), out an array or a tuple of arrays; backward(dout, cache)
    -> gradients in the order of ``inputs``. Like ``rnn_ref.gradcheck.check_layer_gradients``,
    but the loss sum(out * dout) is evaluated in extended precision (np.longdouble) and
    relative to its value at the unperturbed inputs: float64 round-off in the loss would
    otherwise limit the differences to about 1e-10 absolute, and any gradient entry below
    1e-3 would fail a 1e-7 relative test by chance.
    """
    inputs = [np.array(a, dtype=np.float64) for a in inputs]
    out, cache = forward(*inputs)
    grads = backward(dout, cache)
    douts = dout if isinstance(dout, tuple) else (dout,)
    wide = lambda a: np.asarray(a, dtype=np.longdouble)

    def loss(args):
        result = forward(*[wide(a) for a in args])[0]
        result = result if isinstance(result, tuple) else (result,)
        assert len(result) == len(douts)
        return sum(np.sum(r * wide(d)) for r, d in zip(result, douts))

    base = loss(inputs)
    errors = []
    for k, analytic in enumerate(grads):
        assert analytic.shape == inputs[k].shape, f"gradient {k} has shape {analytic.shape}"

        def shifted_loss(value, k=k):
            args = list(inputs)
            args[k] = value
            return float(loss(args) - base)

        errors.append(rel_error(analytic, numerical_gradient(shifted_loss, inputs[k], h)))
    return errors


@pytest.fixture(name="gradient_errors")
def gradient_errors_fixture():
    """``gradient_errors(forward, backward, inputs, dout)``: see :func:`gradient_errors`."""
    return gradient_errors


@pytest.fixture
def unchanged():
    """``unchanged(*arrays)`` -> a callable that asserts the arrays still hold their old values."""

    def snapshot(*arrays):
        saved = [np.array(a, copy=True) for a in arrays]

        def check():
            for k, (a, old) in enumerate(zip(arrays, saved)):
                assert np.array_equal(np.asarray(a), old), f"argument {k} was modified"

        return check

    return snapshot
