"""rnn_ref.birnn: finite differences and torch's bidirectional nn.RNN / nn.LSTM / nn.GRU, with lengths."""

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_ref.birnn import CELLS, birnn_backward, birnn_forward, reverse_within_lengths
from rnn_ref.gradcheck import check_layer_gradients, rel_error
from rnn_ref.torch_interop import to_torch_gru, to_torch_lstm, to_torch_rnn

GATES = {"elman": 1, "lstm": 4, "gru": 3}
OPTIONS = ("activation", "reset")
TO_TORCH = {"elman": to_torch_rnn, "lstm": to_torch_lstm, "gru": to_torch_gru}


def random_params(cell, N, D, H, rng, scale=0.5):
    """One direction's params dict for ``cell`` (the LSTM's includes c0)."""
    G = GATES[cell]
    p = {"h0": rng.standard_normal((N, H)) * scale, "Wx": rng.standard_normal((D, G * H)) * scale,
         "Wh": rng.standard_normal((H, G * H)) * scale}
    if cell == "gru":
        p["bx"], p["bh"] = rng.standard_normal(G * H) * scale, rng.standard_normal(G * H) * scale
    else:
        p["b"] = rng.standard_normal(G * H) * scale
    if cell == "lstm":
        p["c0"] = rng.standard_normal((N, H)) * scale
    return p


OTHER_OPTION = {"elman": ("activation", "relu"), "lstm": None, "gru": ("reset", "before")}
# ReLU's kink makes finite differences unreliable: the ReLU Elman is checked against torch only,
# the reset-before GRU (which torch lacks) against finite differences only.


def random_case(cell, seed, with_lengths):
    """x, params of both directions, lengths or None, and the generator; odd seeds use the
    cell's other option (ReLU Elman, reset-before GRU)."""
    rng = np.random.default_rng(seed)
    N, T, D, H = (int(v) for v in rng.integers(1, 4, size=4))
    T += 1
    x = rng.standard_normal((N, T, D))
    lengths = rng.integers(1, T + 1, size=N) if with_lengths else None
    if with_lengths:
        lengths[0] = T  # torch's packed output keeps T steps only if some sequence has them all
    pf, pb = random_params(cell, N, D, H, rng), random_params(cell, N, D, H, rng)
    if seed % 2 and OTHER_OPTION[cell]:
        key, value = OTHER_OPTION[cell]
        pf[key] = pb[key] = value
    return x, pf, pb, lengths, rng


def to_torch_module(cell, pf, pb):
    """The float64 bidirectional torch module holding both directions, through torch_interop."""
    return TO_TORCH[cell](pf, pb)


def flat_case(cell, x, pf, pb, lengths):
    """check_layer_gradients' view of a bidirectional layer: one flat list of input arrays."""
    kf, kb = [k for k in pf if k not in OPTIONS], [k for k in pb if k not in OPTIONS]
    options_f, options_b = ({k: p[k] for k in p if k in OPTIONS} for p in (pf, pb))

    def forward(x, *arrays):
        return birnn_forward(x, dict(zip(kf, arrays[:len(kf)]), **options_f),
                             dict(zip(kb, arrays[len(kf):]), **options_b), cell, lengths)

    def backward(dout, cache):
        dx, gf, gb = birnn_backward(dout, cache)
        return (dx, *(gf[k] for k in kf), *(gb[k] for k in kb))

    return forward, backward, [x, *(pf[k] for k in kf), *(pb[k] for k in kb)]


@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("seed", range(2))
def test_gradients_match_finite_differences(cell, seed, with_lengths):
    x, pf, pb, lengths, rng = random_case(cell, seed, with_lengths)
    pf.pop("activation", None), pb.pop("activation", None)
    forward, backward, inputs = flat_case(cell, x, pf, pb, lengths)
    out, _ = forward(*inputs)
    dout = rng.standard_normal(out.shape)
    errors = check_layer_gradients(forward, backward, inputs, dout)
    assert max(errors) < 1e-7, errors


@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("seed", range(3))
def test_matches_torch_bidirectional(cell, seed, with_lengths):
    x, pf, pb, lengths, rng = random_case(cell, seed + 10, with_lengths)
    pf.pop("reset", None), pb.pop("reset", None)  # torch has the reset-after GRU only
    N, T, _ = x.shape
    out, cache = birnn_forward(x, pf, pb, cell, lengths)
    dout = rng.standard_normal(out.shape)
    dx, gf, gb = birnn_backward(dout, cache)

    module = to_torch_module(cell, pf, pb)
    xt = torch.tensor(x, requires_grad=True)
    h0 = torch.tensor(np.stack([pf["h0"], pb["h0"]]), requires_grad=True)
    state = (h0, torch.tensor(np.stack([pf["c0"], pb["c0"]]), requires_grad=True)) if cell == "lstm" else h0
    if lengths is None:
        out_t, _ = module(xt, state)
    else:
        packed = pack_padded_sequence(xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False)
        out_t, _ = pad_packed_sequence(module(packed, state)[0], batch_first=True, total_length=T)
    out_t.backward(torch.from_numpy(dout))

    assert rel_error(out, out_t.detach().numpy()) < 1e-10
    assert rel_error(dx, xt.grad.numpy()) < 1e-10
    for suffix, g in (("", gf), ("_reverse", gb)):
        assert rel_error(g["Wx"], getattr(module, "weight_ih_l0" + suffix).grad.numpy().T) < 1e-10
        assert rel_error(g["Wh"], getattr(module, "weight_hh_l0" + suffix).grad.numpy().T) < 1e-10
        b_ih = getattr(module, "bias_ih_l0" + suffix).grad.numpy()
        if cell == "gru":
            assert rel_error(g["bx"], b_ih) < 1e-10
            assert rel_error(g["bh"], getattr(module, "bias_hh_l0" + suffix).grad.numpy()) < 1e-10
        else:
            assert rel_error(g["b"], b_ih) < 1e-10
    assert rel_error(np.stack([gf["h0"], gb["h0"]]), h0.grad.numpy()) < 1e-10
    if cell == "lstm":
        assert rel_error(np.stack([gf["c0"], gb["c0"]]), state[1].grad.numpy()) < 1e-10


def test_backward_direction_starts_at_each_sequences_last_real_step():
    """Changing padding never changes any output; the last real step's backward state is one cell step from h0."""
    rng = np.random.default_rng(3)
    N, T, D = 2, 4, 3
    x = rng.standard_normal((N, T, D))
    pf = random_params("elman", N, D, 3, rng)
    pb = random_params("elman", N, D, 3, rng)
    lengths = np.array([4, 2])
    out, _ = birnn_forward(x, pf, pb, "elman", lengths)
    x2 = x.copy()
    x2[1, 2:] = 100.0  # padding of sequence 1
    assert np.array_equal(out, birnn_forward(x2, pf, pb, "elman", lengths)[0])
    assert np.all(out[1, 2:] == 0)
    first_bwd = np.tanh(x[1, 1] @ pb["Wx"] + pb["h0"][1] @ pb["Wh"] + pb["b"])
    assert np.allclose(out[1, 1, 3:], first_bwd, rtol=1e-14, atol=0)
    # a sequence of full length is the same alone as in the padded batch
    alone, _ = birnn_forward(x[:1], {k: v[:1] if k == "h0" else v for k, v in pf.items()},
                             {k: v[:1] if k == "h0" else v for k, v in pb.items()}, "elman")
    assert np.allclose(alone[0], out[0], rtol=1e-14, atol=1e-15)


def test_reverse_within_lengths_is_its_own_inverse():
    rng = np.random.default_rng(0)
    for _ in range(5):
        N, T = (int(v) for v in rng.integers(1, 6, size=2))
        a = rng.standard_normal((N, T, 2))
        lengths = rng.integers(0, T + 1, size=N)
        r = reverse_within_lengths(a, lengths)
        assert np.array_equal(reverse_within_lengths(r, lengths), a)
        for n in range(N):
            L = lengths[n]
            assert np.array_equal(r[n, :L], a[n, :L][::-1])
            assert np.array_equal(r[n, L:], a[n, L:])


def test_relu_option_reaches_both_directions_and_nothing_is_mutated():
    x, pf, pb, lengths, rng = random_case("elman", 4, True)
    copies = [x.copy(), {k: v.copy() for k, v in pf.items()}, {k: v.copy() for k, v in pb.items()}]
    pf["activation"] = pb["activation"] = "relu"
    out, cache = birnn_forward(x, pf, pb, "elman", lengths)
    assert np.all(out >= 0)
    dout = rng.standard_normal(out.shape)
    dcopy = dout.copy()
    birnn_backward(dout, cache)
    assert np.array_equal(dout, dcopy) and np.array_equal(x, copies[0])
    for p, c in ((pf, copies[1]), (pb, copies[2])):
        assert all(np.array_equal(p[k], c[k]) for k in c)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_left_out_initial_states_are_zeros_and_get_no_gradient(cell):
    x, pf, pb, lengths, rng = random_case(cell, 5, True)
    with_zeros = [{k: np.zeros_like(v) if k in ("h0", "c0") else v for k, v in p.items()} for p in (pf, pb)]
    without = [{k: v for k, v in p.items() if k not in ("h0", "c0")} for p in (pf, pb)]
    out, cache = birnn_forward(x, *without, cell, lengths)
    out0, _ = birnn_forward(x, *with_zeros, cell, lengths)
    assert np.array_equal(out, out0)
    _, gf, gb = birnn_backward(rng.standard_normal(out.shape), cache)
    assert set(gf) == {"Wx", "Wh", *CELLS[cell][2][3:]} - {"c0"} and set(gb) == set(gf)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(cell="cnn"), "cell must be one of"),
    (lambda a: a["pf"].pop("Wh"), r"missing \['Wh'\]"),
    (lambda a: a["pf"].update(reset="after"), r"unknown \['reset'\]"),
    (lambda a: a["pb"].update(Wy=np.zeros(1)), r"unknown \['Wy'\]"),
    (lambda a: a.update(lengths=np.array([0, 9])), "lengths must be integers in"),
    (lambda a: a.update(lengths=np.array([1])), r"lengths has shape \(1,\)"),
    (lambda a: a.update(x=np.zeros((2, 3))), r"x has shape \(2, 3\)"),
])
def test_bad_arguments_raise_value_error(change, message):
    rng = np.random.default_rng(0)
    args = {"x": rng.standard_normal((2, 3, 2)), "pf": random_params("elman", 2, 2, 3, rng),
            "pb": random_params("elman", 2, 2, 3, rng), "cell": "elman", "lengths": None}
    change(args)
    with pytest.raises(ValueError, match=message):
        birnn_forward(args["x"], args["pf"], args["pb"], args["cell"], args["lengths"])


def test_bad_upstream_gradient_shape_raises():
    x, pf, pb, lengths, _ = random_case("gru", 6, True)
    out, cache = birnn_forward(x, pf, pb, "gru", lengths)
    with pytest.raises(ValueError, match="dout has shape"):
        birnn_backward(np.zeros(out.shape[:2] + (out.shape[2] + 1,)), cache)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_float32_runs_in_float32_close_to_float64(cell):
    x, pf, pb, lengths, rng = random_case(cell, 7, True)
    out64, cache64 = birnn_forward(x, pf, pb, cell, lengths)
    f32 = [{k: v.astype(np.float32) if isinstance(v, np.ndarray) else v for k, v in p.items()} for p in (pf, pb)]
    out32, cache32 = birnn_forward(x.astype(np.float32), *f32, cell, lengths)
    dout = rng.standard_normal(out64.shape)
    dx32, gf32, _ = birnn_backward(dout.astype(np.float32), cache32)
    dx64, gf64, _ = birnn_backward(dout, cache64)
    assert out32.dtype == dx32.dtype == gf32["Wh"].dtype == np.float32
    assert np.allclose(out32, out64, atol=1e-5) and np.allclose(dx32, dx64, atol=1e-4)
    assert np.allclose(gf32["Wh"], gf64["Wh"], atol=1e-4)
