"""rnn_ref against torch through rnn_ref.torch_interop: forward outputs, final states and
autograd gradients of a random linear loss agree to 1e-10 in float64, one or two directions."""

import numpy as np
import pytest
import torch

from rnn_ref import torch_interop as ti
from rnn_ref.elman import elman_backward, elman_forward
from rnn_ref.gru import gru_backward, gru_forward
from rnn_ref.lstm import lstm_backward, lstm_forward

# layer: (kind for random_params, our forward, our backward, to_torch, from_torch)
LAYERS = {
    "rnn_tanh": ("elman", elman_forward, elman_backward, ti.to_torch_rnn, ti.from_torch_rnn),
    "rnn_relu": ("elman", elman_forward, elman_backward, ti.to_torch_rnn, ti.from_torch_rnn),
    "lstm": ("lstm", lstm_forward, lstm_backward, ti.to_torch_lstm, ti.from_torch_lstm),
    "gru": ("gru", gru_forward, gru_backward, ti.to_torch_gru, ti.from_torch_gru),
}
SIZES = [(3, 5, 4, 3), (1, 1, 2, 1), (4, 7, 3, 5)]


def close(ours, theirs):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def _params(layer, D, H, rng, random_params, dtype=np.float64):
    params = random_params(LAYERS[layer][0], D, H, rng, dtype)
    if layer.startswith("rnn_"):
        params["activation"] = layer[4:]
    return params


def _ours(layer, x, h0, c0, params):
    """Our forward; returns (hs, final c or None, backward(dhs) -> dict of named gradients)."""
    _, forward, backward, _, _ = LAYERS[layer]
    if layer == "lstm":
        hs, cache = forward(x, h0, **params, c0=c0)
        names, c_last = ("x", "h0", "Wx", "Wh", "b", "c0"), cache.c[:, -1]
    else:
        hs, cache = forward(x, h0, **params)
        names, c_last = ("x", "h0", "Wx", "Wh") + (("bx", "bh") if layer == "gru" else ("b",)), None
    return hs, c_last, lambda dhs: dict(zip(names, backward(dhs, cache)))


def _compare_direction(module, suffix, grads):
    """torch's parameter gradients of one direction against ours."""
    get = lambda name: getattr(module, f"{name}_l0{suffix}").grad
    close(grads["Wx"], get("weight_ih").T)
    close(grads["Wh"], get("weight_hh").T)
    if "b" in grads:  # Elman and LSTM: b = bias_ih + bias_hh, both get the gradient of b
        close(grads["b"], get("bias_ih"))
        close(grads["b"], get("bias_hh"))
    else:
        close(grads["bx"], get("bias_ih"))
        close(grads["bh"], get("bias_hh"))


@pytest.mark.parametrize("N,T,D,H", SIZES)
@pytest.mark.parametrize("layer", LAYERS)
def test_one_direction_matches_torch(layer, N, T, D, H, rng, random_params):
    params = _params(layer, D, H, rng, random_params)
    x, h0, c0, dhs = (rng.normal(size=s) for s in ((N, T, D), (N, H), (N, H), (N, T, H)))
    hs, c_last, backward = _ours(layer, x, h0, c0, params)
    grads = backward(dhs)

    module = LAYERS[layer][3](params)
    assert module.weight_ih_l0.dtype == torch.float64 and module.batch_first
    xt, h0t, c0t = (torch.tensor(a[None] if a.ndim == 2 else a, requires_grad=True) for a in (x, h0, c0))
    out, state = module(xt, (h0t, c0t) if layer == "lstm" else h0t)
    (out * torch.from_numpy(dhs)).sum().backward()

    close(hs, out)
    close(hs[:, -1], (state[0] if layer == "lstm" else state)[0])
    close(grads["x"], xt.grad)
    close(grads["h0"], h0t.grad[0])
    if layer == "lstm":
        close(c_last, state[1][0])
        close(grads["c0"], c0t.grad[0])
    _compare_direction(module, "", grads)


@pytest.mark.parametrize("layer", LAYERS)
def test_bidirectional_matches_torch(layer, rng, random_params):
    """torch's reverse direction reads the sequence backwards; outputs are [h_fwd, h_bwd]."""
    N, T, D, H = 3, 6, 4, 2
    fwd, bwd = _params(layer, D, H, rng, random_params), _params(layer, D, H, rng, random_params)
    x, dhs = rng.normal(size=(N, T, D)), rng.normal(size=(N, T, 2 * H))
    h0, c0 = rng.normal(size=(2, N, H)), rng.normal(size=(2, N, H))
    hs_f, c_f, backward_f = _ours(layer, x, h0[0], c0[0], fwd)
    hs_b, c_b, backward_b = _ours(layer, x[:, ::-1], h0[1], c0[1], bwd)
    grads_f, grads_b = backward_f(dhs[:, :, :H]), backward_b(dhs[:, ::-1, H:])

    module = LAYERS[layer][3](fwd, bwd)
    assert module.bidirectional
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out, state = module(xt, (h0t, c0t) if layer == "lstm" else h0t)
    (out * torch.from_numpy(dhs)).sum().backward()

    close(np.concatenate([hs_f, hs_b[:, ::-1]], axis=2), out)
    h_n = state[0] if layer == "lstm" else state
    close(hs_f[:, -1], h_n[0])
    close(hs_b[:, -1], h_n[1])
    close(grads_f["x"] + grads_b["x"][:, ::-1], xt.grad)
    close(np.stack([grads_f["h0"], grads_b["h0"]]), h0t.grad)
    if layer == "lstm":
        close(np.stack([c_f, c_b]), state[1])
        close(np.stack([grads_f["c0"], grads_b["c0"]]), c0t.grad)
    _compare_direction(module, "", grads_f)
    _compare_direction(module, "_reverse", grads_b)


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trips(layer, dtype, rng, random_params):
    _, _, _, to_torch, from_torch = LAYERS[layer]
    fwd, bwd = _params(layer, 3, 4, rng, random_params, dtype), _params(layer, 3, 4, rng, random_params, dtype)
    module = to_torch(fwd, bwd)
    assert module.weight_hh_l0_reverse.dtype == (torch.float64 if dtype == np.float64 else torch.float32)
    for params, reverse in ((fwd, False), (bwd, True)):
        back = from_torch(module, reverse=reverse)
        assert back.keys() == params.keys()
        for key, value in params.items():
            if isinstance(value, str):
                assert back[key] == value
            else:
                assert back[key].dtype == dtype and np.array_equal(back[key], value), key
    # torch -> rnn_ref -> torch: the same function (Elman and LSTM biases are merged into one)
    torch.manual_seed(0)
    original = type(module)(3, 4, batch_first=True, bidirectional=True, dtype=torch.float64)
    copy = to_torch(from_torch(original), from_torch(original, reverse=True))
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        close(copy(x)[0].numpy(), original(x)[0])
    if layer == "gru":
        for name, tensor in original.state_dict().items():
            assert torch.equal(copy.state_dict()[name], tensor), name


def test_refusals(rng, random_params):
    gru = random_params("gru", 3, 2, rng)
    with pytest.raises(ValueError, match="reset='after'"):
        ti.to_torch_gru({**gru, "reset": "before"})
    with pytest.raises(ValueError, match="reverse=True needs a bidirectional module"):
        ti.from_torch_gru(torch.nn.GRU(3, 2), reverse=True)
    with pytest.raises(ValueError, match="single-layer"):
        ti.from_torch_lstm(torch.nn.LSTM(3, 2, num_layers=2))
    with pytest.raises(ValueError, match=r"reverse_params\['Wx'\] has shape"):
        ti.to_torch_lstm(random_params("lstm", 3, 2, rng), random_params("lstm", 4, 2, rng))
    with pytest.raises(ValueError, match="Wx has shape"):
        ti.to_torch_lstm(gru)
    with pytest.raises(ValueError, match="share one activation"):
        elman = random_params("elman", 3, 2, rng)
        ti.to_torch_rnn(elman, {**elman, "activation": "relu"})
