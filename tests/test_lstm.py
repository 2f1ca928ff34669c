"""rnn_ref.lstm: gradients against centred differences, the sequence forward against the step
forward, no mutation, shape errors, dtypes. (Against torch: test_torch_interop.py.)"""

import numpy as np
import pytest

from rnn_ref.abstraction import identity_output, unroll
from rnn_ref.gradcheck import check_layer_gradients
from rnn_ref.lstm import (
    lstm_backward,
    lstm_forward,
    lstm_state_function,
    lstm_step_backward,
    lstm_step_forward,
)

# (N, T, D, H) drawn per seed, plus the edge cases T = 1 and H = 1.
SIZES = [tuple(np.random.default_rng(s).integers(1, [4, 5, 5, 4])) for s in range(8)] + [(2, 1, 3, 2), (3, 4, 2, 1)]


def _inputs(rng, random_params, N, T, D, H, dtype=np.float64):
    p = random_params("lstm", D, H, rng, dtype)
    x, h0, c0 = (rng.normal(size=s).astype(dtype) for s in ((N, T, D), (N, H), (N, H)))
    return x, h0, p["Wx"], p["Wh"], p["b"], c0


def _step(x, h_prev, c_prev, Wx, Wh, b):
    """lstm_step_forward with the two outputs as one tuple, for check_layer_gradients."""
    h, c, cache = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    return (h, c), cache


@pytest.mark.parametrize("N,T,D,H", SIZES)
def test_sequence_gradients(N, T, D, H, rng, random_params):
    x, h0, Wx, Wh, b, c0 = _inputs(rng, random_params, N, T, D, H)
    dhs = rng.normal(size=(N, T, H))
    errors = check_layer_gradients(lstm_forward, lstm_backward, [x, h0, Wx, Wh, b, c0], dhs)
    assert max(errors) < 1e-7, errors


@pytest.mark.parametrize("N,T,D,H", SIZES[:5] + SIZES[-1:])
def test_step_gradients(N, T, D, H, rng, random_params):
    x, h0, Wx, Wh, b, c0 = _inputs(rng, random_params, N, T, D, H)
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))

    def backward(dout, cache):
        dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dout[0], dout[1], cache)
        return dx, dh_prev, dc_prev, dWx, dWh, db  # the order of the step's inputs

    errors = check_layer_gradients(_step, backward, [x[:, 0], h0, c0, Wx, Wh, b], (dh, dc))
    assert max(errors) < 1e-7, errors


def test_zero_c0_is_the_default_and_gets_a_gradient(rng, random_params):
    x, h0, Wx, Wh, b, _ = _inputs(rng, random_params, 3, 4, 2, 3)
    hs_default, cache_default = lstm_forward(x, h0, Wx, Wh, b)
    hs_zeros, cache_zeros = lstm_forward(x, h0, Wx, Wh, b, np.zeros((3, 3)))
    assert np.array_equal(hs_default, hs_zeros)
    dhs = rng.normal(size=hs_default.shape)
    for g1, g2 in zip(lstm_backward(dhs, cache_default), lstm_backward(dhs, cache_zeros)):
        assert np.array_equal(g1, g2)


@pytest.mark.parametrize("N,T,D,H", SIZES[:4])
def test_sequence_equals_steps_and_unroll(N, T, D, H, rng, random_params):
    x, h0, Wx, Wh, b, c0 = _inputs(rng, random_params, N, T, D, H)
    hs, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    states, ys = unroll(lstm_state_function(Wx, Wh, b), identity_output, (h0, c0), x)
    np.testing.assert_allclose(ys, hs, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.stack([c for _, c in states], axis=1), cache.c, rtol=0, atol=1e-14)
    h, c = h0, c0
    for t in range(T):
        h, c, step = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        for name in ("i", "f", "g", "o", "c", "tanh_c"):
            np.testing.assert_allclose(getattr(cache, name)[:, t], getattr(step, name), rtol=0, atol=1e-14)


def test_gate_values_are_in_range(rng, random_params):
    x, h0, Wx, Wh, b, c0 = _inputs(rng, random_params, 4, 6, 3, 5)
    _, cache = lstm_forward(5 * x, h0, Wx, Wh, b, c0)
    for name in ("i", "f", "o"):
        gate = getattr(cache, name)
        assert gate.shape == (4, 6, 5) and gate.min() >= 0 and gate.max() <= 1
    assert np.abs(cache.g).max() <= 1 and np.abs(cache.tanh_c).max() <= 1
    with pytest.raises(ValueError):
        cache.i[0, 0, 0] = 0.5  # the views are read only


def test_no_mutation_and_cache_independent_of_outputs(rng, random_params, unchanged):
    x, h0, Wx, Wh, b, c0 = _inputs(rng, random_params, 3, 5, 4, 3)
    dhs = rng.normal(size=(3, 5, 3))
    check = unchanged(x, h0, Wx, Wh, b, c0, dhs)
    hs, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    grads = lstm_backward(dhs, cache)
    hs[...] = 0  # the caller owns hs; the cache must not share it
    again = lstm_backward(dhs, cache)
    check()
    for g1, g2 in zip(grads, again):
        assert np.array_equal(g1, g2)
    dh, dc = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    check_step = unchanged(x[:, 0], h0, c0, Wx, Wh, b, dh, dc)
    lstm_step_backward(dh, dc, lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)[2])
    check_step()


@pytest.mark.parametrize(
    "name,bad",
    [("x", (3, 5, 5)), ("x", (3, 4)), ("h0", (2, 3)), ("c0", (3, 2)), ("Wx", (4, 9)), ("Wh", (3, 3)), ("b", (11,))],
)
def test_bad_shapes_name_the_argument(name, bad, rng, random_params):
    args = dict(zip(("x", "h0", "Wx", "Wh", "b", "c0"), _inputs(rng, random_params, 3, 5, 4, 3)))
    args[name] = np.zeros(bad)
    with pytest.raises(ValueError, match=rf"^{name} has shape"):
        lstm_forward(**args)


def test_bad_step_and_gradient_shapes(rng, random_params):
    x, h0, Wx, Wh, b, c0 = _inputs(rng, random_params, 3, 5, 4, 3)
    with pytest.raises(ValueError, match="^c_prev has shape"):
        lstm_step_forward(x[:, 0], h0, c0[:2], Wx, Wh, b)
    _, _, step_cache = lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    with pytest.raises(ValueError, match="^dc has shape"):
        lstm_step_backward(h0, c0[:, :2], step_cache)
    _, cache = lstm_forward(x, h0, Wx, Wh, b, c0)
    with pytest.raises(ValueError, match="^dhs has shape"):
        lstm_backward(np.zeros((3, 4, 3)), cache)


def test_float32_in_float32_out(rng, random_params):
    inputs64 = _inputs(rng, random_params, 3, 5, 4, 3)
    inputs32 = [a.astype(np.float32) for a in inputs64]
    hs32, cache32 = lstm_forward(*inputs32)
    hs64, cache64 = lstm_forward(*inputs64)
    assert hs32.dtype == np.float32 and cache32.i.dtype == np.float32
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    dhs = rng.normal(size=hs64.shape)
    for g32, g64 in zip(lstm_backward(dhs.astype(np.float32), cache32), lstm_backward(dhs, cache64)):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4)
    x, h0, Wx, Wh, b, c0 = inputs32
    h, c, _ = lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    assert h.dtype == c.dtype == np.float32
