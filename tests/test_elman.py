"""rnn_ref.elman, tanh and ReLU: gradients against centred differences, sequence against
steps, no mutation, shape errors, dtypes. (Against torch: test_torch_interop.py.)"""

import numpy as np
import pytest

from rnn_ref.elman import elman_backward, elman_forward, elman_step_backward, elman_step_forward
from rnn_ref.gradcheck import check_layer_gradients

SIZES = [tuple(np.random.default_rng(s).integers(1, [4, 5, 5, 4])) for s in range(6)] + [(2, 1, 3, 2), (3, 4, 2, 1)]
ACTIVATIONS = ["tanh", "relu"]


def _inputs(rng, random_params, N, T, D, H, dtype=np.float64):
    p = random_params("elman", D, H, rng, dtype)
    x, h0 = rng.normal(size=(N, T, D)).astype(dtype), rng.normal(size=(N, H)).astype(dtype)
    return x, h0, p["Wx"], p["Wh"], p["b"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("N,T,D,H", SIZES)
def test_sequence_gradients(N, T, D, H, activation, rng, random_params):
    forward = lambda *args: elman_forward(*args, activation=activation)
    inputs = _inputs(rng, random_params, N, T, D, H)
    errors = check_layer_gradients(forward, elman_backward, inputs, rng.normal(size=(N, T, H)))
    assert max(errors) < 1e-7, errors


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("N,T,D,H", SIZES[:4] + SIZES[-1:])
def test_step_gradients(N, T, D, H, activation, rng, random_params):
    x, *rest = _inputs(rng, random_params, N, T, D, H)
    forward = lambda *args: elman_step_forward(*args, activation=activation)
    errors = check_layer_gradients(forward, elman_step_backward, [x[:, 0], *rest], rng.normal(size=(N, H)))
    assert max(errors) < 1e-7, errors


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_sequence_equals_steps(activation, rng, random_params):
    x, h0, Wx, Wh, b = _inputs(rng, random_params, 3, 6, 4, 5)
    hs, _ = elman_forward(x, h0, Wx, Wh, b, activation)
    h = h0
    for t in range(6):
        h, _ = elman_step_forward(x[:, t], h, Wx, Wh, b, activation)
        np.testing.assert_allclose(hs[:, t], h, rtol=0, atol=1e-14)
    if activation == "relu":
        assert hs.min() == 0 and hs.max() > 0


def test_no_mutation_and_cache_independent_of_outputs(rng, random_params, unchanged):
    inputs = _inputs(rng, random_params, 3, 5, 4, 3)
    dhs = rng.normal(size=(3, 5, 3))
    check = unchanged(*inputs, dhs)
    hs, cache = elman_forward(*inputs)
    grads = elman_backward(dhs, cache)
    hs[...] = 0
    again = elman_backward(dhs, cache)
    x, *rest = inputs
    dh = dhs[:, 0].copy()
    check_step = unchanged(dh)
    h, step_cache = elman_step_forward(x[:, 0], *rest)
    step_grads = elman_step_backward(dh, step_cache)
    h[...] = 0
    for g1, g2 in zip(step_grads, elman_step_backward(dh, step_cache)):
        assert np.array_equal(g1, g2)
    check()
    check_step()
    for g1, g2 in zip(grads, again):
        assert np.array_equal(g1, g2)


@pytest.mark.parametrize("name,bad", [("x", (3, 5, 5)), ("h0", (3, 4)), ("Wx", (4,)), ("Wh", (3, 4)), ("b", (4,))])
def test_bad_shapes_name_the_argument(name, bad, rng, random_params):
    args = dict(zip(("x", "h0", "Wx", "Wh", "b"), _inputs(rng, random_params, 3, 5, 4, 3)))
    args[name] = np.zeros(bad)
    with pytest.raises(ValueError, match=rf"^{name} has shape"):
        elman_forward(**args)


def test_bad_activation_and_gradient_shapes(rng, random_params):
    x, h0, Wx, Wh, b = _inputs(rng, random_params, 3, 5, 4, 3)
    with pytest.raises(ValueError, match="activation must be one of"):
        elman_forward(x, h0, Wx, Wh, b, activation="sigmoid")
    with pytest.raises(ValueError, match="^h_prev has shape"):
        elman_step_forward(x[:, 0], h0[:2], Wx, Wh, b)
    _, cache = elman_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match="^dhs has shape"):
        elman_backward(np.zeros((3, 5)), cache)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_in_float32_out(activation, rng, random_params):
    inputs64 = _inputs(rng, random_params, 3, 5, 4, 3)
    inputs32 = [a.astype(np.float32) for a in inputs64]
    hs32, cache32 = elman_forward(*inputs32, activation=activation)
    hs64, cache64 = elman_forward(*inputs64, activation=activation)
    assert hs32.dtype == np.float32
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    dhs = rng.normal(size=hs64.shape)
    for g32, g64 in zip(elman_backward(dhs.astype(np.float32), cache32), elman_backward(dhs, cache64)):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4)
