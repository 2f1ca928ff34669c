"""Checks for a4_lstm: the student's LSTM step and sequence, forward and backward, against rnn_ref.

Each usual mistake is rnn_ref run the wrong way: gates read in another order are rnn_ref with
the weight blocks permuted; a squashed cell update or a missing tanh is :func:`mistaken_step`
(the step with one line changed); gradients not summed over time or not carried back are
rnn_ref's step backward in a loop that slips (:mod:`.loops`). The gradients are judged by
:mod:`rnn_course.gradients` (gate blocks, the paths through h and c, follow-through). An answer
that matches one of them is told which.
"""

from itertools import permutations

import numpy as np

from rnn_ref.activations import sigmoid
from rnn_ref.lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward

from rnn_course.gradients import judge_backward, judge_forward, judge_step_backward

from . import loops
from .common import CheckFailed, assert_close, assert_not_aliased, assert_unchanged, call_student, rng, unpack

GATES = ("i", "f", "g", "o")
STEP_AXES = ("batch row", "unit")
SEQ_AXES = ("batch row", "time step t", "unit")
SHAPES = ("Shapes: x (N, D) @ Wx (D, 4H), h_prev (N, H) @ Wh (H, 4H), plus b (4H,); the four "
          "gates are the column blocks [i | f | g | o], each H wide.")


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


BACKWARD_NAMES = ("dx", "dh0", "dWx", "dWh", "db", "dc0")
STEP_BACKWARD_NAMES = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")


GATE_WORDS = {"i": "the input gate i", "f": "the forget gate f", "g": "the candidate g", "o": "the output gate o"}
STEP_BACKWARD_MISTAKES = {
    **{f"{gate}_tanh_prime": f"the gradients with tanh's derivative 1 - {gate}**2 for {GATE_WORDS[gate]}: it is a "
                             f"sigmoid, whose derivative is {gate} * (1 - {gate})" for gate in "ifo"},
    "g_sigmoid_prime": "the gradients with the sigmoid's derivative g * (1 - g) for the candidate g: it is a "
                       "tanh, whose derivative is 1 - g**2",
    **{f"{gate}_sign": f"the gradients with the opposite sign for {GATE_WORDS[gate]}'s pre-activation"
       for gate in "ifgo"},
    "df_with_c": "the gradients with da_f = dc * c * f * (1 - f): the forget gate multiplies the previous "
                 "cell, so da_f = dc * c_prev * f * (1 - f)",
    "do_with_c": "the gradients with da_o = dh * c * o * (1 - o): h = o * tanh(c), so da_o = dh * tanh(c) * o * (1 - o)",
    "dc_prev_without_f": "dc_prev without the forget gate: c = f * c_prev + i * g, so dc_prev = (cell gradient) * f",
    "dc_prev_without_dh": "dc_prev = dc * f, without the part of dh: c also reaches the loss through "
                          "h = o * tanh(c), so dc_prev = (dc + dh * o * (1 - tanh(c)**2)) * f",
    "cell_gradient_without_tanh_prime": "the cell gradient dc + dh * o, without tanh's derivative: "
                                        "h = o * tanh(c), so dh reaches c as dh * o * (1 - tanh(c)**2)",
    "cell_gradient_without_o": "the cell gradient dc + dh * (1 - tanh(c)**2), without the output gate: "
                               "h = o * tanh(c), so dh reaches c as dh * o * (1 - tanh(c)**2)",
    "dWh_with_h": "dWh = h.T @ da, with the step's output h: Wh multiplies the step's input, so dWh = h_prev.T @ da",
    "no_upstream_dc": "the gradients without the upstream dc: c reaches the loss directly (dc) and through "
                      "h, so the two parts add up",
}


def mistaken_step_backward(dh, dc, cache, mistake):
    """rnn_ref's LSTM step backward with one of STEP_BACKWARD_MISTAKES; returns the six gradients."""
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, c, tanh_c = cache
    local = {"i": i * (1 - i), "f": f * (1 - f), "g": 1 - g * g, "o": o * (1 - o)}
    if mistake in ("i_tanh_prime", "f_tanh_prime", "o_tanh_prime"):
        gate = mistake[0]
        local[gate] = 1 - {"i": i, "f": f, "o": o}[gate] ** 2
    if mistake == "g_sigmoid_prime":
        local["g"] = g * (1 - g)
    dtanh = 1 - tanh_c * tanh_c
    through_h = {"cell_gradient_without_tanh_prime": dh * o, "cell_gradient_without_o": dh * dtanh}.get(mistake, dh * o * dtanh)
    dc_total = through_h + (0 if mistake == "no_upstream_dc" else dc)
    da = {"i": dc_total * g, "f": dc_total * (c if mistake == "df_with_c" else c_prev), "g": dc_total * i,
          "o": dh * (c if mistake == "do_with_c" else tanh_c)}
    da = {gate: da[gate] * local[gate] * (-1 if mistake == f"{gate}_sign" else 1) for gate in da}
    da = np.concatenate([da[gate] for gate in GATES], axis=1)
    dc_prev = {"dc_prev_without_f": dc_total, "dc_prev_without_dh": dc * f}.get(mistake, dc_total * f)
    h_used = o * tanh_c if mistake == "dWh_with_h" else h_prev
    return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_used.T @ da, da.sum(axis=0)


def step_backward_variants(dh, dc, cache):
    """{description: {gradient name: array}} of the recognised wrong step backwards."""
    return {description: dict(zip(STEP_BACKWARD_NAMES, mistaken_step_backward(dh, dc, cache, key)))
            for key, description in STEP_BACKWARD_MISTAKES.items()}


def step_caches(x, h0, Wx, Wh, b, c0):
    """rnn_ref's step caches of the sequence, one per step."""
    caches, h, c = [], h0, c0
    for t in range(x.shape[1]):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        caches.append(cache)
    return caches


def backward_variants(x, h0, Wx, Wh, b, c0, dhs):
    """The recognised wrong sequence backwards: {description: {gradient name: array}} (the loop
    slips of :mod:`.loops`, with rnn_ref's step backward)."""
    return loops.slip_variants(lstm_step_backward, step_caches(x, h0, Wx, Wh, b, c0), dhs, BACKWARD_NAMES, 2)


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
    call = call_student(fn, *args, shape_hint=SHAPES, outputs=("h", "c", "cache"))
    h, c, cache = unpack("lstm_step_forward(...)", call.value, 3)
    return call, h, c, cache, args


def step_forward_values(lstm_step_forward_student, test="step_forward_values", **sizes):
    """h and c of one step against rnn_ref; names gate order, squashed cell, missing tanh. The
    inputs stay as they were, and h and c are new arrays (not c_prev updated in place)."""
    call, h, c, _, args = _step_forward(lstm_step_forward_student, draw(test, **sizes))
    h_ref, c_ref, _ = lstm_step_forward(*args)
    variants = step_forward_variants(*args)
    assert_close("c", c, c_ref, axes=STEP_AXES, variants={d: v[1] for d, v in variants.items()})
    assert_close("h", h, h_ref, axes=STEP_AXES, variants={d: v[0] for d, v in variants.items()})
    assert_unchanged(call, "lstm_step_forward")
    assert_not_aliased(call, "lstm_step_forward", outputs=("h", "c"))


def step_forward_edge_sizes(lstm_step_forward_student):
    """Edge case H = 1, N = 1: every gate is a single column."""
    step_forward_values(lstm_step_forward_student, test="step_forward_single_unit", N=1, H=1)


def step_backward_values(lstm_step_forward_student, lstm_step_backward_student,
                         test="step_backward_values", **sizes):
    """The six gradients of one step, through the student's own forward: against rnn_ref when that
    forward is right (block by block, path by path), else against centred differences of it."""
    p = draw(test, **sizes)
    args = (p["x"][:, 0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
    h_ref, c_ref, cache_ref = lstm_step_forward(*args)
    dh, dc = p["dhs"][:, 0], p["dc"]
    zeros = np.zeros_like(dc)
    probes = {"dh": lstm_step_backward(dh, zeros, cache_ref), "dc": lstm_step_backward(zeros, dc, cache_ref)}
    expected = lstm_step_backward(dh, dc, cache_ref)
    variants = loops.prune(step_backward_variants(dh, dc, cache_ref), STEP_BACKWARD_NAMES, expected)
    judge_step_backward("lstm", lstm_step_forward_student, lstm_step_backward_student, args, (dh, dc),
                        (h_ref, c_ref), expected, variants=variants, probes=probes)


def step_backward_edge_sizes(lstm_step_forward_student, lstm_step_backward_student):
    """Edge case H = 1, N = 1."""
    step_backward_values(lstm_step_forward_student, lstm_step_backward_student,
                         test="step_backward_single_unit", N=1, H=1)


def _forward(fn, test, with_c0=True, **sizes):
    p = draw(test, with_c0=with_c0, **sizes)
    args = (p["x"], p["h0"], p["Wx"], p["Wh"], p["b"], p["c0"])
    call = call_student(fn, *args, shape_hint=SHAPES, outputs=("hs", "cache"))
    hs, cache = unpack("lstm_forward(...)", call.value, 2)
    return call, hs, cache, p, args


def forward_values(lstm_step_forward_student, lstm_forward_student, test="forward_values", with_c0=True,
                   **sizes):
    """hs of a whole sequence against rnn_ref; names the forward mistakes and a forgotten h0 or c0.
    A wrong hs that is the student's own step forward run over the sequence gets the points."""
    p = draw(test, with_c0=with_c0, **sizes)
    args = (p["x"], p["h0"], p["Wx"], p["Wh"], p["b"], p["c0"])
    c0 = p["c0"] if with_c0 else np.zeros_like(p["h0"])
    variants = forward_variants(*args[:5], c0)
    if not with_c0:  # c0=None means zeros: "started from c0 = 0" is then right
        variants = {d: v for d, v in variants.items() if "c0" not in d}
    expected = lstm_forward(*args)[0]
    variants = {d: v for d, v in variants.items() if not loops.same_grads([v], [expected])}
    judge_forward("lstm", lstm_step_forward_student, lstm_forward_student, args, expected, variants=variants)


def forward_without_c0(lstm_step_forward_student, lstm_forward_student):
    """c0=None starts the cell from zeros."""
    forward_values(lstm_step_forward_student, lstm_forward_student, test="forward_without_c0", with_c0=False)


def forward_inputs_unchanged(lstm_forward_student):
    """lstm_forward leaves x, h0, c0 and the weights as they were."""
    call, *_ = _forward(lstm_forward_student, "forward_inputs_unchanged")
    assert_unchanged(call, "lstm_forward")
    assert_not_aliased(call, "lstm_forward", outputs=("hs",))


def forward_edge_sizes(lstm_step_forward_student, lstm_forward_student):
    """Edge cases T = 1, then H = 1 with N = 1."""
    forward_values(lstm_step_forward_student, lstm_forward_student, test="forward_single_step", T=1)
    forward_values(lstm_step_forward_student, lstm_forward_student, test="forward_single_unit", N=1, H=1)


def backward_values(lstm_step_forward_student, lstm_step_backward_student, lstm_forward_student,
                    lstm_backward_student, test="backward_values", **sizes):
    """The six gradients of BPTT through the student's own forward: against rnn_ref when that
    forward is right (naming loop slips, gate blocks, where in time the error starts), else
    against centred differences of it; a BPTT right given the student's step functions passes."""
    p = draw(test, **sizes)
    args = (p["x"], p["h0"], p["Wx"], p["Wh"], p["b"], p["c0"])
    hs_ref, cache_ref = lstm_forward(*args)
    expected = lstm_backward(p["dhs"], cache_ref)
    variants = loops.prune(backward_variants(*args, p["dhs"]), BACKWARD_NAMES, expected)
    judge_backward("lstm", lstm_forward_student, lstm_backward_student, args, p["dhs"], hs_ref, expected,
                   variants=variants, step_forward=lstm_step_forward_student,
                   step_backward=lstm_step_backward_student)


def backward_inputs_unchanged(lstm_forward_student, lstm_backward_student):
    """lstm_backward leaves dhs as it was."""
    call, hs, cache, p, args = _forward(lstm_forward_student, "backward_inputs_unchanged")
    call = call_student(lstm_backward_student, p["dhs"], cache, names=["dhs", "cache"])
    assert_unchanged(call, "lstm_backward")


def backward_edge_sizes(lstm_step_forward_student, lstm_step_backward_student, lstm_forward_student,
                        lstm_backward_student):
    """Edge cases T = 1 (nothing to carry back), then H = 1 with N = 1."""
    functions = (lstm_step_forward_student, lstm_step_backward_student, lstm_forward_student, lstm_backward_student)
    backward_values(*functions, test="backward_single_step", T=1)
    backward_values(*functions, test="backward_single_unit", N=1, H=1)
