"""Checks for a4_lstm: the student's LSTM step and sequence, forward and backward, against rnn_ref.

Each usual mistake is rnn_ref run the wrong way: gates read in another order are rnn_ref with
the weight blocks permuted; a squashed cell update or a missing tanh is :func:`mistaken_step`
(the step with one line changed); gradients not summed over time or not carried back are
rnn_ref's step backward in a loop that forgets something (:func:`bptt_variants`). An answer
that matches one of them is told which.
"""

from itertools import permutations

import numpy as np

from rnn_ref.activations import sigmoid
from rnn_ref.lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward

from .common import assert_close, assert_unchanged, call_student, rng, unpack

GATES = ("i", "f", "g", "o")
STEP_AXES = ("batch row", "unit")
SEQ_AXES = ("batch row", "time step t", "unit")
SHAPES = ("Shapes: x (N, D) @ Wx (D, 4H), h_prev (N, H) @ Wh (H, 4H), plus b (4H,); the four "
          "gates are the column blocks [i | f | g | o], each H wide.")
FIX_FORWARD = "The backward is checked through your forward's cache: fix the forward first."


# ---------------------------------------------------------------------------------------------
# The usual mistakes, as rnn_ref run the wrong way.

def permute_gates(W, order):
    """Weights that make rnn_ref compute what a student reading the gates in ``order`` computes.

    W (..., 4H) with column blocks [i | f | g | o]; order: a permutation of "ifgo", the gate the
    student takes from each block. Returns W' (..., 4H) whose block j is the block the student
    uses for gate GATES[j].
    """
    H = W.shape[-1] // 4
    blocks = [W[..., k * H:(k + 1) * H] for k in range(4)]
    return np.concatenate([blocks[order.index(gate)] for gate in GATES], axis=-1)


WRONG_ORDERS = ["".join(p) for p in permutations("ifgo") if p != GATES]


def _order(order):
    return (f"an LSTM whose gates are ordered {','.join(order)}; this course (like torch) uses "
            f"i,f,g,o: the column blocks of Wx, Wh and b are [i | f | g | o]")


STEP_MISTAKES = {
    "cell_sigmoid": "an LSTM whose cell update is squashed, c = sigmoid(f*c_prev + i*g) (a slip in one "
                    "of the lecture decks); the update is a plain sum, c = f*c_prev + i*g",
    "no_tanh": "h = o * c, without the tanh: the hidden state is h = o * tanh(c)",
    "g_sigmoid": "an LSTM whose candidate g goes through a sigmoid; g uses tanh (only i, f, o are sigmoids)",
    "old_cell": "h = o * tanh(c_prev): the output gate reads the new cell, h = o * tanh(c)",
}


def mistaken_step(x, h_prev, c_prev, Wx, Wh, b, mistake):
    """One LSTM step with one of the STEP_MISTAKES; inputs as lstm_step_forward; returns (h, c)."""
    H = Wh.shape[0]
    a = x @ Wx + h_prev @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
    g = (sigmoid if mistake == "g_sigmoid" else np.tanh)(a[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    if mistake == "cell_sigmoid":
        c = sigmoid(c)
    h = o * {"no_tanh": c, "old_cell": np.tanh(c_prev)}.get(mistake, np.tanh(c))
    return h, c


def step_forward_variants(x, h_prev, c_prev, Wx, Wh, b):
    """The recognised wrong step forwards: {description: (h, c)}."""
    out = {}
    for order in WRONG_ORDERS:
        h, c, _ = lstm_step_forward(x, h_prev, c_prev, *(permute_gates(W, order) for W in (Wx, Wh, b)))
        out[_order(order)] = (h, c)
    for key, description in STEP_MISTAKES.items():
        out[description] = mistaken_step(x, h_prev, c_prev, Wx, Wh, b, key)
    return out


def forward_variants(x, h0, Wx, Wh, b, c0):
    """The recognised wrong sequence forwards: {description: hs (N, T, H)}."""
    out = {}
    for order in WRONG_ORDERS:
        out[_order(order)] = lstm_forward(x, h0, *(permute_gates(W, order) for W in (Wx, Wh, b)), c0=c0)[0]
    for key, description in STEP_MISTAKES.items():
        h, c, hs = h0, c0, []
        for t in range(x.shape[1]):
            h, c = mistaken_step(x[:, t], h, c, Wx, Wh, b, key)
            hs.append(h)
        out[description] = np.stack(hs, axis=1)
    zeros = np.zeros_like(h0)
    out["the LSTM started from h0 = 0: start from the h0 passed in"] = lstm_forward(x, zeros, Wx, Wh, b, c0)[0]
    out["the LSTM started from c0 = 0: start from the c0 passed in (zeros only when c0 is None)"] = \
        lstm_forward(x, h0, Wx, Wh, b, zeros)[0]
    out["the cell states c_1 ... c_T: hs holds the hidden states h_t"] = lstm_forward(x, h0, Wx, Wh, b, c0)[1].c
    return out


def bptt_variants(x, h0, Wx, Wh, b, c0, dhs):
    """BPTT through rnn_ref's step functions, right and with a gradient path forgotten.

    Returns {"per_step": list over t of the correct step grads (dx_t, dh_prev, dc_prev, dWx_t,
    dWh_t, db_t); "no_dh" / "no_dc": the grads (dx, dh0, dWx, dWh, db, dc0) of a backward that
    does not pass dh_prev (resp. dc_prev) from step t+1 back to step t}.
    """
    caches, h, c = [], h0, c0
    for t in range(x.shape[1]):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        caches.append(cache)

    def run(carry_h, carry_c):
        dh_next, dc_next, steps = np.zeros_like(h0), np.zeros_like(h0), [None] * len(caches)
        for t in reversed(range(len(caches))):
            steps[t] = lstm_step_backward(dhs[:, t] + dh_next, dc_next, caches[t])
            dh_next = steps[t][1] if carry_h else np.zeros_like(h0)
            dc_next = steps[t][2] if carry_c else np.zeros_like(h0)
        summed = [sum(s[k] for s in steps) for k in (3, 4, 5)]
        return steps, (np.stack([s[0] for s in steps], axis=1), steps[0][1], *summed, steps[0][2])

    return {"per_step": run(True, True)[0], "no_dh": run(False, True)[1], "no_dc": run(True, False)[1]}


BACKWARD_NAMES = ("dx", "dh0", "dWx", "dWh", "db", "dc0")
STEP_BACKWARD_NAMES = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")


def backward_variants(x, h0, Wx, Wh, b, c0, dhs):
    """The recognised wrong sequence backwards: {gradient name: {description: array}}."""
    v = bptt_variants(x, h0, Wx, Wh, b, c0, dhs)
    T = x.shape[1]
    out = {name: {} for name in BACKWARD_NAMES}
    for name, k in (("dWx", 3), ("dWh", 4), ("db", 5)):
        if T > 1:
            shared = f"the weights are shared by all steps, so {name} adds up (+=) every step's part"
            out[name][f"the gradient of step t=0 alone: {shared}"] = v["per_step"][0][k]
            out[name][f"the gradient of the last step t={T - 1} alone: {shared}"] = v["per_step"][-1][k]
    for key, description in (
            ("no_dh", "BPTT that does not pass dh_prev from step t+1 back to step t: h_t also feeds "
                      "the next step, so its gradient is dhs[:, t] plus what comes back from t+1"),
            ("no_dc", "BPTT that does not pass dc_prev from step t+1 back to step t: the cell "
                      "carries gradient from step to step too")):
        for name, grad in zip(BACKWARD_NAMES, v[key]):
            out[name][description] = grad
    zero = "zeros everywhere: the gradient must also flow back into the initial state"
    out["dh0"][zero] = np.zeros_like(h0)
    out["dc0"][zero] = np.zeros_like(h0)
    return out


# ---------------------------------------------------------------------------------------------
# Random problems.

def draw(test, N=None, T=None, D=None, H=None, with_c0=True):
    """A random LSTM problem for ``test``: dict with x (N, T, D), h0, c0 (N, H) or None, Wx, Wh, b,
    dhs (N, T, H). Sizes not given are drawn from 2..5 (N from 1..4)."""
    r = rng(test)
    N = N or int(r.integers(1, 5))
    T, D, H = (v or int(r.integers(2, 6)) for v in (T, D, H))
    return {"x": r.normal(size=(N, T, D)), "h0": r.normal(size=(N, H)),
            "c0": r.normal(size=(N, H)) if with_c0 else None,
            "Wx": r.normal(scale=0.6, size=(D, 4 * H)), "Wh": r.normal(scale=0.6, size=(H, 4 * H)),
            "b": r.normal(scale=0.5, size=4 * H), "dhs": r.normal(size=(N, T, H)), "dc": r.normal(size=(N, H))}


# ---------------------------------------------------------------------------------------------
# The graded tests: one public function per test cell of a4_lstm.

def _step_forward(fn, p):
    """Call the student's step forward on step 0 of problem p; returns (call, h, c, cache, args)."""
    args = (p["x"][:, 0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
    call = call_student(fn, *args, shape_hint=SHAPES)
    h, c, cache = unpack("lstm_step_forward(...)", call.value, 3)
    return call, h, c, cache, args


def step_forward_values(lstm_step_forward_student, test="step_forward_values", **sizes):
    """h and c of one step against rnn_ref; names gate order, squashed cell, missing tanh."""
    _, h, c, _, args = _step_forward(lstm_step_forward_student, draw(test, **sizes))
    h_ref, c_ref, _ = lstm_step_forward(*args)
    variants = step_forward_variants(*args)
    assert_close("c", c, c_ref, axes=STEP_AXES, variants={d: v[1] for d, v in variants.items()})
    assert_close("h", h, h_ref, axes=STEP_AXES, variants={d: v[0] for d, v in variants.items()})


def step_forward_edge_sizes(lstm_step_forward_student):
    """Edge case H = 1, N = 1: every gate is a single column."""
    step_forward_values(lstm_step_forward_student, test="step_forward_single_unit", N=1, H=1)


def step_backward_values(lstm_step_forward_student, lstm_step_backward_student,
                         test="step_backward_values", **sizes):
    """The six gradients of one step against rnn_ref, through the student's own forward cache."""
    p = draw(test, **sizes)
    _, h, c, cache, args = _step_forward(lstm_step_forward_student, p)
    h_ref, c_ref, cache_ref = lstm_step_forward(*args)
    assert_close("h from your lstm_step_forward", h, h_ref, axes=STEP_AXES, hint=FIX_FORWARD)
    assert_close("c from your lstm_step_forward", c, c_ref, axes=STEP_AXES, hint=FIX_FORWARD)
    dh, dc = p["dhs"][:, 0], p["dc"]
    call = call_student(lstm_step_backward_student, dh, dc, cache, names=["dh", "dc", "cache"])
    grads = unpack("lstm_step_backward(...)", call.value, 6)
    expected = lstm_step_backward(dh, dc, cache_ref)
    no_dc = lstm_step_backward(dh, np.zeros_like(dc), cache_ref)
    for k, name in enumerate(STEP_BACKWARD_NAMES):
        variants = {"the gradients without the upstream dc: c reaches the loss directly (dc) and "
                    "through h, so the two parts add up": no_dc[k]}
        assert_close(name, grads[k], expected[k], axes=_grad_axes(name), blocks=_grad_blocks(name),
                     variants=variants)
    assert_unchanged(call, "lstm_step_backward")


def step_backward_edge_sizes(lstm_step_forward_student, lstm_step_backward_student):
    """Edge case H = 1, N = 1."""
    step_backward_values(lstm_step_forward_student, lstm_step_backward_student,
                         test="step_backward_single_unit", N=1, H=1)


def _forward(fn, test, with_c0=True, **sizes):
    p = draw(test, with_c0=with_c0, **sizes)
    args = (p["x"], p["h0"], p["Wx"], p["Wh"], p["b"], p["c0"])
    call = call_student(fn, *args, shape_hint=SHAPES)
    hs, cache = unpack("lstm_forward(...)", call.value, 2)
    return call, hs, cache, p, args


def forward_values(lstm_forward_student, test="forward_values", with_c0=True, **sizes):
    """hs of a whole sequence against rnn_ref; names the forward mistakes and a forgotten h0 or c0."""
    _, hs, _, p, args = _forward(lstm_forward_student, test, with_c0, **sizes)
    c0 = p["c0"] if with_c0 else np.zeros_like(p["h0"])
    variants = forward_variants(*args[:5], c0)
    if not with_c0:  # c0=None means zeros: "started from c0 = 0" is then right
        variants = {d: v for d, v in variants.items() if "c0" not in d}
    assert_close("hs", hs, lstm_forward(*args)[0], axes=SEQ_AXES, variants=variants)


def forward_without_c0(lstm_forward_student):
    """c0=None starts the cell from zeros."""
    forward_values(lstm_forward_student, test="forward_without_c0", with_c0=False)


def forward_inputs_unchanged(lstm_forward_student):
    """lstm_forward leaves x, h0, c0 and the weights as they were."""
    call, *_ = _forward(lstm_forward_student, "forward_inputs_unchanged")
    assert_unchanged(call, "lstm_forward")


def forward_edge_sizes(lstm_forward_student):
    """Edge cases T = 1, then H = 1 with N = 1."""
    forward_values(lstm_forward_student, test="forward_single_step", T=1)
    forward_values(lstm_forward_student, test="forward_single_unit", N=1, H=1)


def _backward(lstm_forward_student, lstm_backward_student, test, **sizes):
    call, hs, cache, p, args = _forward(lstm_forward_student, test, **sizes)
    hs_ref, cache_ref = lstm_forward(*args)
    assert_close("hs from your lstm_forward", hs, hs_ref, axes=SEQ_AXES, hint=FIX_FORWARD)
    call = call_student(lstm_backward_student, p["dhs"], cache, names=["dhs", "cache"])
    grads = unpack("lstm_backward(...)", call.value, 6)
    return call, grads, lstm_backward(p["dhs"], cache_ref), p, args


def backward_values(lstm_forward_student, lstm_backward_student, test="backward_values", **sizes):
    """The six gradients of BPTT against rnn_ref, through the student's own forward cache."""
    _, grads, expected, p, args = _backward(lstm_forward_student, lstm_backward_student, test, **sizes)
    variants = backward_variants(*args, p["dhs"])
    for k, name in enumerate(BACKWARD_NAMES):
        assert_close(name, grads[k], expected[k], axes=_grad_axes(name, sequence=True),
                     blocks=_grad_blocks(name), variants=variants[name])


def backward_inputs_unchanged(lstm_forward_student, lstm_backward_student):
    """lstm_backward leaves dhs as it was."""
    call, *_ = _backward(lstm_forward_student, lstm_backward_student, "backward_inputs_unchanged")
    assert_unchanged(call, "lstm_backward")


def backward_edge_sizes(lstm_forward_student, lstm_backward_student):
    """Edge cases T = 1 (nothing to carry back), then H = 1 with N = 1."""
    backward_values(lstm_forward_student, lstm_backward_student, test="backward_single_step", T=1)
    backward_values(lstm_forward_student, lstm_backward_student, test="backward_single_unit", N=1, H=1)


def _grad_axes(name, sequence=False):
    if name in ("dWx", "dWh", "db"):
        return {"dWx": ("input unit", "column"), "dWh": ("hidden unit", "column"), "db": ("column",)}[name]
    return SEQ_AXES if (sequence and name == "dx") else STEP_AXES


def _grad_blocks(name):
    return GATES if name in ("dWx", "dWh", "db") else None
