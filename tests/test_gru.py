"""rnn_ref.gru, both reset placements: gradients against centred differences, the sequence
forward against the step forward, the gate conventions, no mutation, shape errors, dtypes."""

import numpy as np
import pytest

from rnn_ref.abstraction import identity_output, unroll
from rnn_ref.gradcheck import check_layer_gradients
from rnn_ref.gru import gru_backward, gru_forward, gru_state_function, gru_step_backward, gru_step_forward

SIZES = [tuple(np.random.default_rng(s).integers(1, [4, 5, 5, 4])) for s in range(6)] + [(2, 1, 3, 2), (3, 4, 2, 1)]
RESETS = ["after", "before"]


def _inputs(rng, random_params, N, T, D, H, dtype=np.float64):
    p = random_params("gru", D, H, rng, dtype)
    x, h0 = rng.normal(size=(N, T, D)).astype(dtype), rng.normal(size=(N, H)).astype(dtype)
    return x, h0, p["Wx"], p["Wh"], p["bx"], p["bh"]


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("N,T,D,H", SIZES)
def test_sequence_gradients(N, T, D, H, reset, rng, random_params):
    inputs = _inputs(rng, random_params, N, T, D, H)
    forward = lambda *args: gru_forward(*args, reset=reset)
    errors = check_layer_gradients(forward, gru_backward, inputs, rng.normal(size=(N, T, H)))
    assert max(errors) < 1e-7, errors


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("N,T,D,H", SIZES[:4] + SIZES[-1:])
def test_step_gradients(N, T, D, H, reset, rng, random_params):
    x, *rest = _inputs(rng, random_params, N, T, D, H)
    forward = lambda *args: gru_step_forward(*args, reset=reset)
    errors = check_layer_gradients(forward, gru_step_backward, [x[:, 0], *rest], rng.normal(size=(N, H)))
    assert max(errors) < 1e-7, errors


@pytest.mark.parametrize("reset", RESETS)
def test_sequence_equals_steps_and_unroll(reset, rng, random_params):
    x, h0, Wx, Wh, bx, bh = _inputs(rng, random_params, 3, 5, 4, 3)
    hs, cache = gru_forward(x, h0, Wx, Wh, bx, bh, reset=reset)
    _, ys = unroll(gru_state_function(Wx, Wh, bx, bh, reset), identity_output, h0, x)
    np.testing.assert_allclose(ys, hs, rtol=0, atol=1e-14)
    h = h0
    for t in range(5):
        h, step = gru_step_forward(x[:, t], h, Wx, Wh, bx, bh, reset=reset)
        for name in ("r", "z", "n"):
            np.testing.assert_allclose(getattr(cache, name)[:, t], getattr(step, name), rtol=0, atol=1e-14)


def test_update_gate_multiplies_the_old_state(rng, random_params):
    """z near 1 keeps h_prev (torch's and slide 001's convention), z near 0 takes the candidate."""
    x, h0, Wx, Wh, bx, bh = _inputs(rng, random_params, 2, 1, 3, 4)
    H = 4
    keep, take = bx.copy(), bx.copy()
    keep[H:2 * H], take[H:2 * H] = 40.0, -40.0
    h_keep, _ = gru_step_forward(x[:, 0], h0, Wx, Wh, keep, bh)
    h_take, cache = gru_step_forward(x[:, 0], h0, Wx, Wh, take, bh)
    np.testing.assert_allclose(h_keep, h0, atol=1e-12)
    np.testing.assert_allclose(h_take, cache.n, atol=1e-12)


def test_reset_placements_agree_when_the_reset_gate_is_open(rng, random_params):
    """With r = 1 both candidates are tanh(x W_xn + b_xn + h W_hn + b_hn); otherwise they differ."""
    x, h0, Wx, Wh, bx, bh = _inputs(rng, random_params, 3, 4, 2, 3)
    after, _ = gru_forward(x, h0, Wx, Wh, bx, bh, reset="after")
    before, _ = gru_forward(x, h0, Wx, Wh, bx, bh, reset="before")
    assert np.abs(after - before).max() > 1e-3
    open_bx = bx.copy()
    open_bx[:3] = 60.0
    after, _ = gru_forward(x, h0, Wx, Wh, open_bx, bh, reset="after")
    before, _ = gru_forward(x, h0, Wx, Wh, open_bx, bh, reset="before")
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-12)


@pytest.mark.parametrize("reset", RESETS)
def test_no_mutation_and_cache_independent_of_outputs(reset, rng, random_params, unchanged):
    inputs = _inputs(rng, random_params, 3, 5, 4, 3)
    dhs = rng.normal(size=(3, 5, 3))
    check = unchanged(*inputs, dhs)
    hs, cache = gru_forward(*inputs, reset=reset)
    grads = gru_backward(dhs, cache)
    hs[...] = 0
    again = gru_backward(dhs, cache)
    x, *rest = inputs
    dh = dhs[:, 0].copy()
    check_step = unchanged(dh)
    gru_step_backward(dh, gru_step_forward(x[:, 0], *rest, reset=reset)[1])
    check()
    check_step()
    for g1, g2 in zip(grads, again):
        assert np.array_equal(g1, g2)


@pytest.mark.parametrize(
    "name,bad", [("x", (3, 5, 5)), ("h0", (3, 4)), ("Wx", (4, 8)), ("Wh", (3, 6)), ("bx", (8,)), ("bh", (3, 3))]
)
def test_bad_shapes_name_the_argument(name, bad, rng, random_params):
    args = dict(zip(("x", "h0", "Wx", "Wh", "bx", "bh"), _inputs(rng, random_params, 3, 5, 4, 3)))
    args[name] = np.zeros(bad)
    with pytest.raises(ValueError, match=rf"^{name} has shape"):
        gru_forward(**args)


def test_bad_reset_and_gradient_shapes(rng, random_params):
    x, h0, Wx, Wh, bx, bh = _inputs(rng, random_params, 3, 5, 4, 3)
    with pytest.raises(ValueError, match="reset must be one of"):
        gru_forward(x, h0, Wx, Wh, bx, bh, reset="middle")
    with pytest.raises(ValueError, match="^h_prev has shape"):
        gru_step_forward(x[:, 0], h0[:, :2], Wx, Wh, bx, bh)
    _, cache = gru_forward(x, h0, Wx, Wh, bx, bh)
    with pytest.raises(ValueError, match="^dhs has shape"):
        gru_backward(np.zeros((3, 5, 2)), cache)
    with pytest.raises(ValueError, match="^dh has shape"):
        gru_step_backward(np.zeros((2, 3)), gru_step_forward(x[:, 0], h0, Wx, Wh, bx, bh)[1])


@pytest.mark.parametrize("reset", RESETS)
def test_float32_in_float32_out(reset, rng, random_params):
    inputs64 = _inputs(rng, random_params, 3, 5, 4, 3)
    inputs32 = [a.astype(np.float32) for a in inputs64]
    hs32, cache32 = gru_forward(*inputs32, reset=reset)
    hs64, cache64 = gru_forward(*inputs64, reset=reset)
    assert hs32.dtype == np.float32
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    dhs = rng.normal(size=hs64.shape)
    for g32, g64 in zip(gru_backward(dhs.astype(np.float32), cache32), gru_backward(dhs, cache64)):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4)
    h, _ = gru_step_forward(inputs32[0][:, 0], *inputs32[1:], reset=reset)
    assert h.dtype == np.float32
