"""Checks for a5_gru: the student's GRU (torch's convention) and its loading into torch.nn.GRU.

Each usual mistake is rnn_ref run the wrong way: z on the other side of the interpolation is
rnn_ref with the z block negated (sigmoid(-a) = 1 - sigmoid(a)); the reset gate before the
product is rnn_ref's ``reset="before"``; gates in another order are permuted weight blocks;
a transposed or reshaped torch weight is rnn_ref with that matrix.
"""

import inspect
from itertools import permutations

import numpy as np
import torch

from rnn_ref.activations import sigmoid
from rnn_ref.gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward

from rnn_course.callbacks import run_torch_rnn

from .common import (ForbiddenShortcut, CheckFailed, assert_close, assert_unchanged, call_student,
                     rng, unpack)

GATES = ("r", "z", "n")
STEP_AXES = ("batch row", "unit")
SEQ_AXES = ("batch row", "time step t", "unit")
SHAPES = ("Shapes: x (N, D) @ Wx (D, 3H) + bx (3H,), h_prev (N, H) @ Wh (H, 3H) + bh (3H,); the "
          "gates are the column blocks [r | z | n], each H wide.")
FIX_FORWARD = "The backward is checked through your forward's cache: fix the forward first."
PARAMS = ("Wx", "Wh", "bx", "bh")


# ---------------------------------------------------------------------------------------------
# The usual mistakes, as rnn_ref run the wrong way.

def permute_gates(W, order):
    """Weights that make rnn_ref compute what a student reading the gates in ``order`` computes.

    W (..., 3H) with column blocks [r | z | n]; order: a permutation of "rzn", the gate the
    student takes from each block. Returns W' (..., 3H).
    """
    H = W.shape[-1] // 3
    blocks = [W[..., k * H:(k + 1) * H] for k in range(3)]
    return np.concatenate([blocks[order.index(gate)] for gate in GATES], axis=-1)


def flip_z(W):
    """W (..., 3H) with the z block negated: rnn_ref then computes z' = 1 - z."""
    H = W.shape[-1] // 3
    W = np.array(W, dtype=np.float64)
    W[..., H:2 * H] *= -1
    return W


def bias_outside_step(x, h_prev, Wx, Wh, bx, bh):
    """A GRU step with b_hn outside the reset product: n = tanh(x Wxn + bxn + r*(h Whn) + bhn)."""
    H = Wh.shape[0]
    ax, ah = x @ Wx + bx, h_prev @ Wh
    r = sigmoid(ax[:, :H] + ah[:, :H] + bh[:H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H] + bh[H:2 * H])
    n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:] + bh[2 * H:])
    return (1 - z) * n + z * h_prev


Z_OTHER_SIDE = ("a GRU with z on the other side, h = (1-z)*h_prev + z*n (the form of two of the lecture "
                "decks); this course follows torch: h = (1-z)*n + z*h_prev, z keeps the old state")
RESET_BEFORE = ("a GRU that resets before the product, (r*h_prev) @ Whn + bhn (Cho et al.); torch, and "
                "this course, reset after it: r * (h_prev @ Whn + bhn)")
BIAS_OUTSIDE = ("a GRU with bhn outside the reset, r*(h_prev @ Whn) + bhn; in torch's convention the "
                "hidden bias of n is inside: r * (h_prev @ Whn + bhn)")


def _order(order):
    return (f"a GRU whose gates are ordered {','.join(order)}; this course (like torch) uses r,z,n: "
            f"the column blocks of Wx, Wh, bx and bh are [r | z | n]")


WRONG_ORDERS = ["".join(p) for p in permutations("rzn") if p != GATES]


def _runs(run, x, h, Wx, Wh, bx, bh):
    """{description: output of run(x, h, Wx, Wh, bx, bh, reset)} for every parameter mistake."""
    out = {_order(o): run(x, h, *(permute_gates(W, o) for W in (Wx, Wh, bx, bh)), "after") for o in WRONG_ORDERS}
    out[Z_OTHER_SIDE] = run(x, h, *(flip_z(W) for W in (Wx, Wh, bx, bh)), "after")
    out[RESET_BEFORE] = run(x, h, Wx, Wh, bx, bh, "before")
    return out


def step_forward_variants(x, h_prev, Wx, Wh, bx, bh):
    """The recognised wrong step forwards: {description: h (N, H)}."""
    out = _runs(lambda *a: gru_step_forward(*a[:6], reset=a[6])[0], x, h_prev, Wx, Wh, bx, bh)
    out[BIAS_OUTSIDE] = bias_outside_step(x, h_prev, Wx, Wh, bx, bh)
    return out


def forward_variants(x, h0, Wx, Wh, bx, bh):
    """The recognised wrong sequence forwards: {description: hs (N, T, H)}."""
    out = _runs(lambda *a: gru_forward(*a[:6], reset=a[6])[0], x, h0, Wx, Wh, bx, bh)
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = bias_outside_step(x[:, t], h, Wx, Wh, bx, bh)
        hs.append(h)
    out[BIAS_OUTSIDE] = np.stack(hs, axis=1)
    out["the GRU started from h0 = 0: start from the h0 passed in"] = gru_forward(x, np.zeros_like(h0), Wx, Wh, bx, bh)[0]
    return out


STEP_BACKWARD_NAMES = ("dx", "dh_prev", "dWx", "dWh", "dbx", "dbh")
BACKWARD_NAMES = ("dx", "dh0", "dWx", "dWh", "dbx", "dbh")


def backward_variants(x, h0, Wx, Wh, bx, bh, dhs):
    """The recognised wrong sequence backwards: {gradient name: {description: array}}, from
    rnn_ref's step backward in a loop (per-step weight gradients, no dh carried back)."""
    caches, h = [], h0
    for t in range(x.shape[1]):
        h, cache = gru_step_forward(x[:, t], h, Wx, Wh, bx, bh)
        caches.append(cache)
    T = len(caches)
    steps, dh_next = [None] * T, np.zeros_like(h0)
    for t in reversed(range(T)):  # correct BPTT, keeping each step's part
        steps[t] = gru_step_backward(dhs[:, t] + dh_next, caches[t])
        dh_next = steps[t][1]
    no_dh = [gru_step_backward(dhs[:, t], caches[t]) for t in range(T)]
    out = {name: {} for name in BACKWARD_NAMES}
    for k, name in enumerate(BACKWARD_NAMES[2:], start=2):
        if T > 1:
            shared = f"the weights are shared by all steps, so {name} adds up (+=) every step's part"
            out[name][f"the gradient of step t=0 alone: {shared}"] = steps[0][k]
            out[name][f"the gradient of the last step t={T - 1} alone: {shared}"] = steps[-1][k]
    no_dh_grads = (np.stack([s[0] for s in no_dh], axis=1), no_dh[0][1],
                   *(sum(s[k] for s in no_dh) for k in range(2, 6)))
    for name, grad in zip(BACKWARD_NAMES, no_dh_grads):
        out[name]["BPTT that does not pass dh_prev from step t+1 back to step t: h_t also feeds the "
                  "next step, so its gradient is dhs[:, t] plus what comes back from t+1"] = grad
    out["dh0"]["zeros everywhere: the gradient must also flow back into the initial state"] = np.zeros_like(h0)
    return out


# ---------------------------------------------------------------------------------------------
# Random problems.

def draw(test, N=None, T=None, D=None, H=None):
    """A random GRU problem: dict with x (N, T, D), h0 (N, H), Wx (D, 3H), Wh (H, 3H), bx, bh (3H,),
    dhs (N, T, H). Sizes not given are drawn from 2..5 (N from 1..4)."""
    r = rng(test)
    N = N or int(r.integers(1, 5))
    T, D, H = (v or int(r.integers(2, 6)) for v in (T, D, H))
    return {"x": r.normal(size=(N, T, D)), "h0": r.normal(size=(N, H)),
            "Wx": r.normal(scale=0.6, size=(D, 3 * H)), "Wh": r.normal(scale=0.6, size=(H, 3 * H)),
            "bx": r.normal(scale=0.5, size=3 * H), "bh": r.normal(scale=0.5, size=3 * H),
            "dhs": r.normal(size=(N, T, H))}


def _params(p):
    return tuple(p[k] for k in PARAMS)


# ---------------------------------------------------------------------------------------------
# The graded tests: one public function per test cell of a5_gru.

def step_forward_values(gru_step_forward_student, test="step_forward_values", **sizes):
    """h of one step against rnn_ref; names z on the other side, reset before, gate order."""
    p = draw(test, **sizes)
    args = (p["x"][:, 0], p["h0"], *_params(p))
    call = call_student(gru_step_forward_student, *args, shape_hint=SHAPES)
    h, _ = unpack("gru_step_forward(...)", call.value, 2)
    assert_close("h", h, gru_step_forward(*args)[0], axes=STEP_AXES, variants=step_forward_variants(*args))


def step_forward_edge_sizes(gru_step_forward_student):
    """Edge case H = 1, N = 1."""
    step_forward_values(gru_step_forward_student, test="step_forward_single_unit", N=1, H=1)


def step_backward_values(gru_step_forward_student, gru_step_backward_student,
                         test="step_backward_values", **sizes):
    """The six gradients of one step against rnn_ref, through the student's own forward cache."""
    p = draw(test, **sizes)
    args = (p["x"][:, 0], p["h0"], *_params(p))
    call = call_student(gru_step_forward_student, *args, shape_hint=SHAPES)
    h, cache = unpack("gru_step_forward(...)", call.value, 2)
    h_ref, cache_ref = gru_step_forward(*args)
    assert_close("h from your gru_step_forward", h, h_ref, axes=STEP_AXES, hint=FIX_FORWARD)
    dh = p["dhs"][:, 0]
    call = call_student(gru_step_backward_student, dh, cache, names=["dh", "cache"])
    grads = unpack("gru_step_backward(...)", call.value, 6)
    for name, got, expected in zip(STEP_BACKWARD_NAMES, grads, gru_step_backward(dh, cache_ref)):
        assert_close(name, got, expected, axes=_grad_axes(name), blocks=_grad_blocks(name))
    assert_unchanged(call, "gru_step_backward")


def step_backward_edge_sizes(gru_step_forward_student, gru_step_backward_student):
    """Edge case H = 1, N = 1."""
    step_backward_values(gru_step_forward_student, gru_step_backward_student,
                         test="step_backward_single_unit", N=1, H=1)


def _forward(fn, test, **sizes):
    p = draw(test, **sizes)
    args = (p["x"], p["h0"], *_params(p))
    call = call_student(fn, *args, shape_hint=SHAPES)
    hs, cache = unpack("gru_forward(...)", call.value, 2)
    return call, hs, cache, p, args


def forward_values(gru_forward_student, test="forward_values", **sizes):
    """hs of a whole sequence against rnn_ref; names the forward mistakes and a forgotten h0."""
    _, hs, _, _, args = _forward(gru_forward_student, test, **sizes)
    assert_close("hs", hs, gru_forward(*args)[0], axes=SEQ_AXES, variants=forward_variants(*args))


def forward_inputs_unchanged(gru_forward_student):
    """gru_forward leaves x, h0 and the weights as they were."""
    call, *_ = _forward(gru_forward_student, "forward_inputs_unchanged")
    assert_unchanged(call, "gru_forward")


def forward_edge_sizes(gru_forward_student):
    """Edge cases T = 1, then H = 1 with N = 1."""
    forward_values(gru_forward_student, test="forward_single_step", T=1)
    forward_values(gru_forward_student, test="forward_single_unit", N=1, H=1)


def _backward(gru_forward_student, gru_backward_student, test, **sizes):
    _, hs, cache, p, args = _forward(gru_forward_student, test, **sizes)
    hs_ref, cache_ref = gru_forward(*args)
    assert_close("hs from your gru_forward", hs, hs_ref, axes=SEQ_AXES, hint=FIX_FORWARD)
    call = call_student(gru_backward_student, p["dhs"], cache, names=["dhs", "cache"])
    grads = unpack("gru_backward(...)", call.value, 6)
    return call, grads, gru_backward(p["dhs"], cache_ref), p, args


def backward_values(gru_forward_student, gru_backward_student, test="backward_values", **sizes):
    """The six gradients of BPTT against rnn_ref, through the student's own forward cache."""
    _, grads, expected, p, args = _backward(gru_forward_student, gru_backward_student, test, **sizes)
    variants = backward_variants(*args, p["dhs"])
    for name, got, ref in zip(BACKWARD_NAMES, grads, expected):
        assert_close(name, got, ref, axes=SEQ_AXES if name == "dx" else _grad_axes(name),
                     blocks=_grad_blocks(name), variants=variants[name])


def backward_inputs_unchanged(gru_forward_student, gru_backward_student):
    """gru_backward leaves dhs as it was."""
    call, *_ = _backward(gru_forward_student, gru_backward_student, "backward_inputs_unchanged")
    assert_unchanged(call, "gru_backward")


def backward_edge_sizes(gru_forward_student, gru_backward_student):
    """Edge cases T = 1, then H = 1 with N = 1."""
    backward_values(gru_forward_student, gru_backward_student, test="backward_single_step", T=1)
    backward_values(gru_forward_student, gru_backward_student, test="backward_single_unit", N=1, H=1)


def to_torch_values(to_torch_gru_student, test="to_torch_values", **sizes):
    """``to_torch_gru(Wx, Wh, bx, bh)`` returns an nn.GRU (batch first, float64) whose output
    equals rnn_ref's gru_forward on random inputs. Names reshaped weights and swapped or merged biases."""
    try:
        if "rnn_ref" in inspect.getsource(to_torch_gru_student):
            raise ForbiddenShortcut("`to_torch_gru` uses rnn_ref (its torch_interop does this exercise). "
                                    "Copy the weights yourself, so its tests score 0.")
    except (OSError, TypeError):
        pass
    p = draw(test, **sizes)
    call = call_student(to_torch_gru_student, *_params(p), own_implementation=False)
    assert_unchanged(call, "to_torch_gru")
    out = call_student(run_torch_rnn, call.value, p["x"], p["h0"], names=["module", "x", "h0"],
                       own_implementation=False).value
    Wx, Wh, bx, bh = _params(p)
    D, H = Wx.shape[0], Wh.shape[0]
    variants = {
        "a GRU whose weight_ih_l0 is Wx.reshape(3H, D): a reshape keeps the memory order, it does not "
        "transpose; use Wx.T": lambda: gru_forward(p["x"], p["h0"], Wx.reshape(3 * H, D).T, Wh, bx, bh)[0],
        "a GRU whose weight_hh_l0 is Wh.reshape(3H, H): a reshape keeps the memory order, it does not "
        "transpose; use Wh.T": lambda: gru_forward(p["x"], p["h0"], Wx, Wh.reshape(3 * H, H).T, bx, bh)[0],
        "a GRU with the two biases swapped; use bias_ih_l0 = bx and bias_hh_l0 = bh (they differ because "
        "the reset gate multiplies bhn)": lambda: gru_forward(p["x"], p["h0"], Wx, Wh, bh, bx)[0],
        "a GRU with merged biases, bias_ih_l0 = bx + bh and bias_hh_l0 = 0 (right for an LSTM, not for "
        "a GRU: the reset gate multiplies bhn); use bias_ih_l0 = bx, bias_hh_l0 = bh": lambda: gru_forward(p["x"], p["h0"], Wx, Wh, bx + bh, 0 * bh)[0],
    }
    assert_close("gru(x, h0) output", out, gru_forward(p["x"], p["h0"], Wx, Wh, bx, bh)[0],
                 axes=SEQ_AXES, variants=variants)


def to_torch_edge_sizes(to_torch_gru_student):
    """Edge cases T = 1, then H = 1 with N = 1."""
    to_torch_values(to_torch_gru_student, test="to_torch_single_step", T=1)
    to_torch_values(to_torch_gru_student, test="to_torch_single_unit", N=1, H=1)


def _grad_axes(name):
    return {"dWx": ("input unit", "column"), "dWh": ("hidden unit", "column"), "dbx": ("column",),
            "dbh": ("column",)}.get(name, STEP_AXES)


def _grad_blocks(name):
    return GATES if name in ("dWx", "dWh", "dbx", "dbh") else None
