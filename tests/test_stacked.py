"""rnn_ref.stacked: multi-layer RNNs against finite differences and torch's num_layers > 1."""

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_ref.gradcheck import check_layer_gradients, rel_error
from rnn_ref.stacked import stacked_backward, stacked_forward
from test_birnn import TO_TORCH, random_params

CELL_NAMES = ["elman", "lstm", "gru"]


def random_stack(cell, seed, bidirectional, L=2, with_lengths=False):
    rng = np.random.default_rng(seed)
    N, T, D, H = (int(v) for v in rng.integers(1, 4, size=4))
    T += 1
    x = rng.standard_normal((N, T, D))
    layers, D_in = [], D
    for _ in range(L):
        if bidirectional:
            layers.append((random_params(cell, N, D_in, H, rng), random_params(cell, N, D_in, H, rng)))
        else:
            layers.append(random_params(cell, N, D_in, H, rng))
        D_in = 2 * H if bidirectional else H
    lengths = None
    if with_lengths:
        lengths = rng.integers(1, T + 1, size=N)
        lengths[0] = T
    return x, layers, lengths, rng


def directions(layers):
    """Every direction's dict, layer by layer (a bidirectional layer gives two)."""
    return [d for layer in layers for d in (layer if isinstance(layer, tuple) else (layer,))]


def flatten(layers):
    """(direction index, key) and the array for every entry of every direction's dict."""
    entries = [((i, k), v) for i, d in enumerate(directions(layers)) for k, v in d.items()]
    return [e[0] for e in entries], [e[1] for e in entries]


def rebuild(layers, keys, arrays):
    """layers' structure with the given arrays in place of its own."""
    dicts = [{} for _ in directions(layers)]
    for (i, k), a in zip(keys, arrays):
        dicts[i][k] = a
    it = iter(dicts)
    return [(next(it), next(it)) if isinstance(layer, tuple) else next(it) for layer in layers]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_gradients_match_finite_differences(cell, bidirectional):
    x, layers, lengths, rng = random_stack(cell, 1, bidirectional, with_lengths=True)
    keys, arrays = flatten(layers)

    def forward(x, *arrays):
        return stacked_forward(x, rebuild(layers, keys, arrays), cell, lengths)

    def backward(dout, cache):
        dx, grads = stacked_backward(dout, cache)
        return (dx, *flatten(grads)[1])

    dout = rng.standard_normal(forward(x, *arrays)[0].shape)
    errors = check_layer_gradients(forward, backward, [x, *arrays], dout)
    assert max(errors) < 1e-7, errors


@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_matches_torch_num_layers(cell, bidirectional, with_lengths):
    L = 3
    x, layers, lengths, rng = random_stack(cell, 2, bidirectional, L, with_lengths)
    N, T, D = x.shape
    H = (layers[0][0] if bidirectional else layers[0])["Wh"].shape[0]
    out, cache = stacked_forward(x, layers, cell, lengths)
    dout = rng.standard_normal(out.shape)
    dx, grads = stacked_backward(dout, cache)

    module_class = {"elman": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    net = module_class(D, H, num_layers=L, batch_first=True, bidirectional=bidirectional, dtype=torch.float64)
    directions = [layer if bidirectional else (layer,) for layer in layers]
    with torch.no_grad():  # each layer's weights through torch_interop's single-layer mapping
        for l, dirs in enumerate(directions):
            single = TO_TORCH[cell](*dirs)
            for name, tensor in single.named_parameters():
                getattr(net, name.replace("_l0", f"_l{l}")).copy_(tensor)
    state = lambda key: torch.tensor(np.stack([d[key] for dirs in directions for d in dirs]), requires_grad=True)
    h0 = state("h0")
    initial = (h0, state("c0")) if cell == "lstm" else h0
    xt = torch.tensor(x, requires_grad=True)
    if lengths is None:
        out_t, _ = net(xt, initial)
    else:
        packed = pack_padded_sequence(xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False)
        out_t, _ = pad_packed_sequence(net(packed, initial)[0], batch_first=True, total_length=T)
    out_t.backward(torch.from_numpy(dout))

    assert rel_error(out, out_t.detach().numpy()) < 1e-10
    assert rel_error(dx, xt.grad.numpy()) < 1e-10
    grad_dirs = [g if bidirectional else (g,) for g in grads]
    for l, dirs in enumerate(grad_dirs):
        for suffix, g in zip(("", "_reverse"), dirs):
            assert rel_error(g["Wx"], getattr(net, f"weight_ih_l{l}{suffix}").grad.numpy().T) < 1e-10
            assert rel_error(g["Wh"], getattr(net, f"weight_hh_l{l}{suffix}").grad.numpy().T) < 1e-10
            bias = g["bx"] if cell == "gru" else g["b"]
            assert rel_error(bias, getattr(net, f"bias_ih_l{l}{suffix}").grad.numpy()) < 1e-10
    flat = [d for dirs in grad_dirs for d in dirs]
    assert rel_error(np.stack([d["h0"] for d in flat]), h0.grad.numpy()) < 1e-10
    if cell == "lstm":
        assert rel_error(np.stack([d["c0"] for d in flat]), initial[1].grad.numpy()) < 1e-10


def test_one_layer_stack_is_the_layer_itself():
    from rnn_ref.elman import elman_forward

    x, layers, _, _ = random_stack("elman", 3, False, L=1)
    p = layers[0]
    out, _ = stacked_forward(x, layers)
    assert np.array_equal(out, elman_forward(x, p["h0"], p["Wx"], p["Wh"], p["b"])[0])


def test_bad_arguments_raise_value_error():
    x, layers, _, _ = random_stack("gru", 4, False)
    with pytest.raises(ValueError, match="layers is empty"):
        stacked_forward(x, [], "gru")
    with pytest.raises(ValueError, match=r"layers\[1\] for cell 'gru'"):
        stacked_forward(x, [layers[0], {"Wx": layers[1]["Wx"]}], "gru")
    out, cache = stacked_forward(x, layers, "gru")
    with pytest.raises(ValueError, match="dout has shape"):
        stacked_backward(np.zeros(out.shape[:2] + (out.shape[2] + 1,)), cache)


def test_inputs_params_and_upstream_gradient_are_not_mutated():
    x, layers, lengths, rng = random_stack("lstm", 5, True, with_lengths=True)
    keys, arrays = flatten(layers)
    copies = [x.copy()] + [a.copy() for a in arrays]
    out, cache = stacked_forward(x, layers, "lstm", lengths)
    dout = rng.standard_normal(out.shape)
    dcopy = dout.copy()
    stacked_backward(dout, cache)
    assert np.array_equal(dout, dcopy)
    assert all(np.array_equal(a, c) for a, c in zip([x] + flatten(layers)[1], copies))
