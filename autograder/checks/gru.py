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

from rnn_course.gradients import judge_backward, judge_forward, judge_step_backward

from . import loops
from .common import (ForbiddenShortcut, CheckFailed, assert_close, assert_not_aliased, assert_unchanged,
                     call_student, rng, unpack)

GATES = ("r", "z", "n")
STEP_AXES = ("batch row", "unit")
SEQ_AXES = ("batch row", "time step t", "unit")
SHAPES = ("Shapes: x (N, D) @ Wx (D, 3H) + bx (3H,), h_prev (N, H) @ Wh (H, 3H) + bh (3H,); the "
          "gates are the column blocks [r | z | n], each H wide.")
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


GATE_WORDS = {"r": "the reset gate r", "z": "the update gate z", "n": "the candidate n"}
STEP_BACKWARD_MISTAKES = {
    **{f"{gate}_tanh_prime": f"the gradients with tanh's derivative 1 - {gate}**2 for {GATE_WORDS[gate]}: it is a "
                             f"sigmoid, whose derivative is {gate} * (1 - {gate})" for gate in "rz"},
    "n_sigmoid_prime": "the gradients with the sigmoid's derivative n * (1 - n) for the candidate n: it is a "
                       "tanh, whose derivative is 1 - n**2",
    **{f"{gate}_sign": f"the gradients with the opposite sign for {GATE_WORDS[gate]}'s pre-activation"
       for gate in "rzn"},
    "z_other_side": "the backward of a GRU with z on the other side (h = (1-z)*h_prev + z*n): this course "
                    "follows torch, h = (1-z)*n + z*h_prev, so dh reaches h_prev directly as dh * z and z's "
                    "pre-activation as dh * (h_prev - n) * z * (1 - z)",
    "no_direct_path": "dh_prev without the direct path dh * z: h = (1-z)*n + z*h_prev uses h_prev directly too",
    "hidden_n_without_r": "the hidden part of n differentiated without the reset gate: n = tanh(... + r * (h_prev "
                          "@ Whn + bhn)), so the gradient of h_prev @ Whn + bhn is dan * r",
    "reset_before": "the backward of a GRU that resets before the product, (r*h_prev) @ Whn (Cho et al.): torch, "
                    "and this course, reset after it, r * (h_prev @ Whn + bhn)",
    "hn_without_bias": "the reset gate's gradient with h_prev @ Whn, without bhn: what r multiplies is "
                       "h_prev @ Whn + bhn",
    "dWh_with_h": "dWh = h.T @ dah, with the step's output h: Wh multiplies the step's input, so dWh = h_prev.T @ dah",
}


def mistaken_step_backward(dh, cache, mistake):
    """rnn_ref's GRU step backward (reset after) with one of STEP_BACKWARD_MISTAKES; the six gradients."""
    x, h_prev, Wx, Wh, r, z, n, hn, _ = cache
    H = n.shape[1]
    local = {"r": r * (1 - r), "z": z * (1 - z), "n": 1 - n * n}
    if mistake in ("r_tanh_prime", "z_tanh_prime"):
        local[mistake[0]] = 1 - {"r": r, "z": z}[mistake[0]] ** 2
    if mistake == "n_sigmoid_prime":
        local["n"] = n * (1 - n)
    sign = {gate: -1 if mistake == f"{gate}_sign" else 1 for gate in GATES}
    other = mistake == "z_other_side"
    dan = sign["n"] * dh * (z if other else 1 - z) * local["n"]
    daz = sign["z"] * dh * ((n - h_prev) if other else (h_prev - n)) * local["z"]
    Whn = Wh[:, 2 * H:]
    if mistake == "reset_before":
        dhr = dan @ Whn.T
        dar = sign["r"] * dhr * h_prev * local["r"]
        dah = np.concatenate([dar, daz, dan], axis=1)
        dax = dah
        dWh = np.concatenate([h_prev.T @ dah[:, :2 * H], (r * h_prev).T @ dan], axis=1)
        dh_prev = dh * z + dah[:, :2 * H] @ Wh[:, :2 * H].T + dhr * r
        return dax @ Wx.T, dh_prev, x.T @ dax, dWh, dax.sum(axis=0), dah.sum(axis=0)
    what_r_multiplies = h_prev @ Whn if mistake == "hn_without_bias" else hn
    dar = sign["r"] * dan * what_r_multiplies * local["r"]
    dax = np.concatenate([dar, daz, dan], axis=1)
    dah = np.concatenate([dar, daz, dan if mistake == "hidden_n_without_r" else dan * r], axis=1)
    direct = 0 if mistake == "no_direct_path" else dh * ((1 - z) if other else z)
    h_used = (1 - z) * n + z * h_prev if mistake == "dWh_with_h" else h_prev
    return dax @ Wx.T, direct + dah @ Wh.T, x.T @ dax, h_used.T @ dah, dax.sum(axis=0), dah.sum(axis=0)


def step_backward_variants(dh, cache):
    """{description: {gradient name: array}} of the recognised wrong step backwards."""
    return {description: dict(zip(STEP_BACKWARD_NAMES, mistaken_step_backward(dh, cache, key)))
            for key, description in STEP_BACKWARD_MISTAKES.items()}


def step_caches(x, h0, Wx, Wh, bx, bh):
    """rnn_ref's step caches of the sequence, one per step."""
    caches, h = [], h0
    for t in range(x.shape[1]):
        h, cache = gru_step_forward(x[:, t], h, Wx, Wh, bx, bh)
        caches.append(cache)
    return caches


def backward_variants(x, h0, Wx, Wh, bx, bh, dhs):
    """The recognised wrong sequence backwards: {description: {gradient name: array}} (the loop
    slips of :mod:`.loops`, with rnn_ref's step backward)."""
    return loops.slip_variants(gru_step_backward, step_caches(x, h0, Wx, Wh, bx, bh), dhs, BACKWARD_NAMES, 1)


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
    call = call_student(gru_step_forward_student, *args, shape_hint=SHAPES, outputs=("h", "cache"))
    h, _ = unpack("gru_step_forward(...)", call.value, 2)
    assert_close("h", h, gru_step_forward(*args)[0], axes=STEP_AXES, variants=step_forward_variants(*args))
    assert_unchanged(call, "gru_step_forward")
    assert_not_aliased(call, "gru_step_forward", outputs=("h",))


def step_forward_edge_sizes(gru_step_forward_student):
    """Edge case H = 1, N = 1."""
    step_forward_values(gru_step_forward_student, test="step_forward_single_unit", N=1, H=1)


def step_backward_values(gru_step_forward_student, gru_step_backward_student,
                         test="step_backward_values", **sizes):
    """The six gradients of one step, through the student's own forward: against rnn_ref when that
    forward is right (gate block by gate block), else against centred differences of it."""
    p = draw(test, **sizes)
    args = (p["x"][:, 0], p["h0"], *_params(p))
    h_ref, cache_ref = gru_step_forward(*args)
    dh = p["dhs"][:, 0]
    expected = gru_step_backward(dh, cache_ref)
    variants = loops.prune(step_backward_variants(dh, cache_ref), STEP_BACKWARD_NAMES, expected)
    judge_step_backward("gru", gru_step_forward_student, gru_step_backward_student, args, (dh,), (h_ref,),
                        expected, variants=variants)


def step_backward_edge_sizes(gru_step_forward_student, gru_step_backward_student):
    """Edge case H = 1, N = 1."""
    step_backward_values(gru_step_forward_student, gru_step_backward_student,
                         test="step_backward_single_unit", N=1, H=1)


def _forward(fn, test, **sizes):
    p = draw(test, **sizes)
    args = (p["x"], p["h0"], *_params(p))
    call = call_student(fn, *args, shape_hint=SHAPES, outputs=("hs", "cache"))
    hs, cache = unpack("gru_forward(...)", call.value, 2)
    return call, hs, cache, p, args


def forward_values(gru_step_forward_student, gru_forward_student, test="forward_values", **sizes):
    """hs of a whole sequence against rnn_ref; names the forward mistakes and a forgotten h0. A
    wrong hs that is the student's own step forward run over the sequence gets the points."""
    p = draw(test, **sizes)
    args = (p["x"], p["h0"], *_params(p))
    expected = gru_forward(*args)[0]
    variants = {d: v for d, v in forward_variants(*args).items()
                if not loops.same_grads([v], [expected])}
    judge_forward("gru", gru_step_forward_student, gru_forward_student, args, expected, variants=variants)


def forward_inputs_unchanged(gru_forward_student):
    """gru_forward leaves x, h0 and the weights as they were."""
    call, *_ = _forward(gru_forward_student, "forward_inputs_unchanged")
    assert_unchanged(call, "gru_forward")
    assert_not_aliased(call, "gru_forward", outputs=("hs",))


def forward_edge_sizes(gru_step_forward_student, gru_forward_student):
    """Edge cases T = 1, then H = 1 with N = 1."""
    forward_values(gru_step_forward_student, gru_forward_student, test="forward_single_step", T=1)
    forward_values(gru_step_forward_student, gru_forward_student, test="forward_single_unit", N=1, H=1)


def backward_values(gru_step_forward_student, gru_step_backward_student, gru_forward_student,
                    gru_backward_student, test="backward_values", **sizes):
    """The six gradients of BPTT through the student's own forward: against rnn_ref when that
    forward is right (naming loop slips, gate blocks, where in time the error starts), else
    against centred differences of it; a BPTT right given the student's step functions passes."""
    p = draw(test, **sizes)
    args = (p["x"], p["h0"], *_params(p))
    hs_ref, cache_ref = gru_forward(*args)
    expected = gru_backward(p["dhs"], cache_ref)
    variants = loops.prune(backward_variants(*args, p["dhs"]), BACKWARD_NAMES, expected)
    judge_backward("gru", gru_forward_student, gru_backward_student, args, p["dhs"], hs_ref, expected,
                   variants=variants, step_forward=gru_step_forward_student,
                   step_backward=gru_step_backward_student)


def backward_inputs_unchanged(gru_forward_student, gru_backward_student):
    """gru_backward leaves dhs as it was."""
    _, _, cache, p, _ = _forward(gru_forward_student, "backward_inputs_unchanged")
    call = call_student(gru_backward_student, p["dhs"], cache, names=["dhs", "cache"])
    assert_unchanged(call, "gru_backward")


def backward_edge_sizes(gru_step_forward_student, gru_step_backward_student, gru_forward_student,
                        gru_backward_student):
    """Edge cases T = 1, then H = 1 with N = 1."""
    functions = (gru_step_forward_student, gru_step_backward_student, gru_forward_student, gru_backward_student)
    backward_values(*functions, test="backward_single_step", T=1)
    backward_values(*functions, test="backward_single_unit", N=1, H=1)


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
