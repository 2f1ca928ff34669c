"""Checks for assignment a1_elman: the state and output functions, unroll, step and sequence forward.

Each public function is one graded test: it draws its own inputs (seeded per run), calls the
student's function and compares with rnn_ref. Shapes: x (N, T, D), h (N, H), Wx (D, H),
Wh (H, H), b (H,), Wy (H, K), by (K,).
"""

import numpy as np

from rnn_ref.abstraction import unroll as ref_unroll
from rnn_ref.activations import softmax
from rnn_ref.elman import elman_forward, elman_output_function, elman_state_function, elman_step_forward

from rnn_course.callbacks import double, running_sum

from .common import (CheckFailed, Given, as_array, assert_close, assert_length, assert_not_aliased,
                     assert_shape, assert_stable, assert_unchanged, call_student, mixed_scales, rng, unpack)

STEP_AXES = ("batch row", "unit")
SEQ_AXES = ("batch row", "time step", "unit")
OUT_AXES = ("batch row", "time step", "class")
SHAPES = ("Shapes: x (N, D) @ Wx (D, H), h_prev (N, H) @ Wh (H, H), plus b (H,); the course "
          "uses row vectors.")


def draw(r, N=None, T=None, D=None, H=None, K=None, square=False):
    """Random Elman inputs: dict with x (N, T, D), h0 (N, H), Wx, Wh, b, Wy (H, K), by (K,)."""
    N = N or int(r.integers(2, 5))
    T = T or int(r.integers(3, 7))
    H = H or int(r.integers(3, 7))
    D = H if square else (D or int(r.choice([d for d in range(2, 8) if d != H])))
    K = K or int(r.integers(2, 6))
    return dict(
        x=r.standard_normal((N, T, D)), h0=0.5 * r.standard_normal((N, H)),
        Wx=r.standard_normal((D, H)) / np.sqrt(D), Wh=r.standard_normal((H, H)) / np.sqrt(H),
        b=0.3 * r.standard_normal(H), Wy=r.standard_normal((H, K)), by=0.3 * r.standard_normal(K))


def _loop(x, h0, Wx, Wh, b, act=np.tanh, carry=True):
    """The Elman recurrence with a chosen nonlinearity; carry=False restarts every step from h0."""
    hs, h = [], h0
    for t in range(x.shape[1]):
        h = act(x[:, t] @ Wx + (h if carry else h0) @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1)


def _step_variants(x, h, Wx, Wh, b):
    """The answers of usual mistakes for one step (x (N, D), h (N, H))."""
    return {
        "an Elman step without the tanh": lambda: x @ Wx + h @ Wh + b,
        "an Elman step with Wh transposed (h_prev @ Wh.T)": lambda: np.tanh(x @ Wx + h @ Wh.T + b),
        "an Elman step with Wx transposed (x @ Wx.T)": lambda: np.tanh(x @ Wx.T + h @ Wh + b),
        "an Elman step without the bias b": lambda: np.tanh(x @ Wx + h @ Wh),
        "an Elman step that ignores h_prev": lambda: np.tanh(x @ Wx + b),
        "an Elman step with a sigmoid in place of the tanh": lambda: 1 / (1 + np.exp(-(x @ Wx + h @ Wh + b))),
        "a step with its two inputs swapped (h_prev @ Wx + x @ Wh): R is called as R(h_prev, x), "
        "state first": lambda: np.tanh(h @ Wx + x @ Wh + b),
    }


def _shifted_loop(x, h0, Wx, Wh, b, times, x_shift=0, store_previous=False):
    """The Elman loop run the wrong way: only over ``times`` (the other steps stay 0), reading
    x[:, t + x_shift] (Python's negative index wraps around), or storing the state from before
    the update at step t."""
    N, T, _ = x.shape
    hs, h = np.zeros((N, T, h0.shape[1])), h0
    for t in times:
        previous = h
        h = np.tanh(x[:, t + x_shift] @ Wx + h @ Wh + b)
        hs[:, t] = previous if store_previous else h
    return hs


def _sequence_variants(x, h0, Wx, Wh, b):
    T = x.shape[1]
    hs = lambda: elman_forward(x, h0, Wx, Wh, b)[0]  # noqa: E731
    return {
        "an Elman RNN without the tanh": lambda: _loop(x, h0, Wx, Wh, b, act=lambda a: a),
        "an Elman RNN with Wh transposed (h @ Wh.T)": lambda: elman_forward(x, h0, Wx, Wh.T, b)[0],
        "an Elman RNN with Wx transposed (x_t @ Wx.T)": lambda: elman_forward(x, h0, Wx.T, Wh, b)[0],
        "an Elman RNN that starts from zeros instead of h0": lambda: elman_forward(x, 0 * h0, Wx, Wh, b)[0],
        "an Elman RNN that does not carry h from step to step (every step uses h0)":
            lambda: _loop(x, h0, Wx, Wh, b, carry=False),
        "an Elman RNN without the bias b": lambda: elman_forward(x, h0, Wx, Wh, 0 * b)[0],
        "a loop that starts at t=1 (range(1, T)): step t=0 is never computed, so x_0 is skipped "
        "and hs[:, 0] stays 0": lambda: _shifted_loop(x, h0, Wx, Wh, b, range(1, T)) if T > 1 else None,
        "a loop that stops one step early (range(T - 1)): the last state h_T is never computed":
            lambda: _shifted_loop(x, h0, Wx, Wh, b, range(T - 1)) if T > 1 else None,
        "states shifted by one step: hs[:, t] holds the state from before step t (h0 at t=0), "
        "stored before the update instead of after it":
            lambda: _shifted_loop(x, h0, Wx, Wh, b, range(T), store_previous=True),
        "an off-by-one in time on the input: step t reads x[:, t - 1] (x[:, -1], the last input, "
        "at t=0) instead of x[:, t]": lambda: _shifted_loop(x, h0, Wx, Wh, b, range(T), x_shift=-1),
        "a loop that runs backwards in time (t = T-1 ... 0): the recurrence starts at the first step":
            lambda: _shifted_loop(x, h0, Wx, Wh, b, range(T - 1, -1, -1)) if T > 1 else None,
        "every step holding the last state h_T (hs filled after the loop, or one array appended "
        "and then overwritten in place)": lambda: np.repeat(hs()[:, -1:], T, axis=1) if T > 1 else None,
        "only the last step stored (hs[:, t] = h after the loop instead of inside it): every "
        "other step stays 0": lambda: np.concatenate([0 * hs()[:, :-1], hs()[:, -1:]], axis=1) if T > 1 else None,
        "states stored in an integer array (np.zeros(..., dtype=int) or np.zeros_like of an "
        "integer array), which truncates every state towards 0": lambda: np.trunc(hs()),
    }


# --- exercise 1: the state function R and the output function O -----------------------------

def _state(make_state_function, test, **sizes):
    p = draw(rng(test), T=1, **sizes)
    x, h = p["x"][:, 0], p["h0"]
    R = call_student(make_state_function, p["Wx"], p["Wh"], p["b"]).value
    got = call_student(R, h, x, names=["h_prev", "x"], fn_name="R", shape_hint=SHAPES).value
    return got, p, x, h


def state_shape(make_state_function):
    """R(h_prev, x) returns an array of shape (N, H), even when D differs from H."""
    got, p, x, h = _state(make_state_function, "state_shape")
    assert_shape("R(h_prev, x)", got, h.shape, axes=("N", "H"),
                 hint=f"Here x has shape {x.shape} and h_prev {h.shape}.")


def state_values(make_state_function, test="state_values", **sizes):
    """R(h_prev, x) = tanh(x @ Wx + h_prev @ Wh + b), compared with rnn_ref."""
    got, p, x, h = _state(make_state_function, test, square=True, **sizes)
    expected = elman_state_function(p["Wx"], p["Wh"], p["b"])(h, x)
    assert_close("R(h_prev, x)", got, expected, axes=STEP_AXES,
                 variants=_step_variants(x, h, p["Wx"], p["Wh"], p["b"]))


def state_single_unit(make_state_function):
    """Edge case H = 1, N = 1: the matrices are 1 x 1 and nothing may be squeezed away."""
    state_values(make_state_function, test="state_single_unit", N=1, H=1)


def _output(make_output_function, test, offset=0.0):
    r = rng(test)
    N, H, K = int(r.integers(2, 5)), int(r.integers(2, 6)), int(r.integers(2, 6))
    h = r.standard_normal((N, H))
    Wy, by = r.standard_normal((H, K)), offset + r.standard_normal(K)
    O = call_student(make_output_function, Wy, by).value
    got = call_student(O, h, names=["h"], fn_name="O",
                       shape_hint="Shapes: h (N, H) @ Wy (H, K) + by (K,).").value
    scores = h @ Wy + by
    variants = {
        "the scores h @ Wy + by without the softmax": scores,
        "a softmax over the batch axis (axis 0) instead of over the classes": lambda: softmax(scores, axis=0),
        "a softmax of h @ Wy without the bias by": lambda: softmax(h @ Wy),
    }
    assert_close("O(h)", got, elman_output_function(Wy, by)(h), axes=("batch row", "class"),
                 variants=variants)


def output_values(make_output_function):
    """O(h) = softmax(h @ Wy + by) row by row, compared with rnn_ref."""
    _output(make_output_function, "output_values")


def output_large_scores(make_output_function):
    """O must not overflow for scores near 1000, nor on a batch whose rows have very different
    scales (rows of h times 1e3 and 1e-3): subtract each row's own maximum before exp."""
    _output(make_output_function, "output_large_scores", offset=1000.0)
    _output_mixed_scales(make_output_function)


def _output_mixed_scales(make_output_function):
    """A softmax shifted by one maximum for the whole batch, not each row's own, breaks on the
    rows of small scale (exp underflows to 0 there: 0 / 0)."""
    r = rng("output_mixed_scales")
    N, H, K = int(r.integers(4, 7)), int(r.integers(2, 6)), int(r.integers(2, 6))
    h, row_scales = mixed_scales(r.standard_normal((N, H)))
    Wy, by = r.standard_normal((H, K)), r.standard_normal(K)
    O = call_student(make_output_function, Wy, by).value
    got = call_student(O, h, names=["h"], fn_name="O",
                       shape_hint="Shapes: h (N, H) @ Wy (H, K) + by (K,).").value
    scores = h @ Wy + by

    def global_max():
        with np.errstate(all="ignore"):
            e = np.exp(scores - scores.max())
            return e / e.sum(axis=-1, keepdims=True)

    assert_stable("O(h)", got, elman_output_function(Wy, by)(h), row_scales=row_scales,
                  axes=("batch row", "class"), variants={
                      "a softmax shifted by the maximum of the whole batch (scores.max()) instead of "
                      "each row's own maximum (scores.max(axis=-1, keepdims=True))": global_max,
                      "a softmax over the batch axis (axis 0) instead of over the classes":
                          lambda: softmax(scores, axis=0),
                  }, hint="Each row is a distribution of its own: shift each row by its own maximum.")


# --- exercise 2: unroll ------------------------------------------------------------------------

_ONE_STEP_TOO_FEW = ("The loop misses one step: it should run over every t = 0 ... T-1 "
                     "(range(xs.shape[1])), not start at 1 or stop at T-1.")
_STACK_HINT = ("Stack the outputs on the time axis, batch first: np.stack(ys, axis=1), not "
               "np.array(ys) or np.stack(ys), which put time first.")


def _unroll_call(unroll, R, O, s0, xs):
    states, ys = unpack("unroll", call_student(unroll, R, O, s0, xs, names=["R", "O", "s0", "xs"],
                                               own_implementation=True).value, 2)
    return states, ys


def unroll_order(unroll):
    """With R(s, x) = s + x and O(s) = 2 s, the states are running sums: checks order and count."""
    r = rng("unroll_order")
    N, T, D = int(r.integers(2, 4)), int(r.integers(3, 6)), int(r.integers(2, 5))
    xs, s0 = r.standard_normal((N, T, D)), r.standard_normal((N, D))
    states, ys = _unroll_call(unroll, running_sum, double, s0, xs)
    expected = s0[:, None, :] + np.cumsum(xs, axis=1)
    assert_length("states", states, T, longer=f"unroll returned {T + 1} states for T = {T} steps: "
                  f"the list should be [s_1, ..., s_T], without s0.", shorter=_ONE_STEP_TOO_FEW)
    assert_close("states (stacked)", np.stack([as_array("a state", s) for s in states], axis=1),
                 expected, axes=SEQ_AXES, variants={
                     "states that each start again from s0 (R(s0, x_t) instead of R(s_{t-1}, x_t)): "
                     "carry the state from step to step": s0[:, None, :] + xs,
                     "the states of the sequence read backwards (x_T first)":
                         s0[:, None, :] + np.cumsum(xs[:, ::-1], axis=1),
                     "states shifted by one step (s_{t-1} stored at step t, s0 first)":
                         np.concatenate([s0[:, None, :], expected[:, :-1]], axis=1)})
    previous = np.concatenate([s0[:, None, :], expected[:, :-1]], axis=1)
    assert_shape("ys", ys, (N, T, D), axes=("N", "T", "K"), hint=_STACK_HINT)
    assert_close("ys", ys, 2 * expected, axes=SEQ_AXES,
                 variants={"outputs computed from the previous state O(s_{t-1}) instead of O(s_t)":
                           2 * previous})


def unroll_elman(unroll, test="unroll_elman", **sizes):
    """unroll with the Elman R and O of rnn_ref gives the outputs of rnn_ref's unroll."""
    p = draw(rng(test), **sizes)

    def R(h, x):  # written here, not taken from rnn_ref: calls into rnn_ref count as shortcuts
        return np.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"])

    def O(h):
        e = np.exp(h @ p["Wy"] + p["by"])
        return e / e.sum(axis=1, keepdims=True)

    states, ys = _unroll_call(unroll, R, O, p["h0"], p["x"])
    ref_states, ref_ys = ref_unroll(elman_state_function(p["Wx"], p["Wh"], p["b"]),
                                    elman_output_function(p["Wy"], p["by"]), p["h0"], p["x"])
    assert_length("states", states, len(ref_states), longer=f"unroll returned {len(ref_states) + 1} "
                  f"states for T = {len(ref_states)} steps: the list should be [s_1, ..., s_T], without s0.",
                  shorter=_ONE_STEP_TOO_FEW)
    assert_shape("ys", ys, ref_ys.shape, axes=("N", "T", "K"), hint=_STACK_HINT)
    assert_close("ys", ys, ref_ys, axes=OUT_AXES)


def unroll_single_step(unroll):
    """Edge case T = 1: one state and outputs of shape (N, 1, K)."""
    unroll_elman(unroll, test="unroll_single_step", T=1)


# --- exercise 3: the Elman network through unroll ------------------------------------------------

def predict_values(elman_predict, unroll=None, make_state_function=None, make_output_function=None,
                   test="predict_values", **sizes):
    """elman_predict(xs, h0, Wx, Wh, b, Wy, by) equals rnn_ref's unroll with the Elman R and O; or,
    when the earlier answers are wrong, what the student's own unroll, R and O give (follow-through)."""
    p = draw(rng(test), **sizes)
    args = [p[k] for k in ("x", "h0", "Wx", "Wh", "b", "Wy", "by")]
    got = call_student(elman_predict, *args, shape_hint=SHAPES).value
    _, expected = ref_unroll(elman_state_function(p["Wx"], p["Wh"], p["b"]),
                             elman_output_function(p["Wy"], p["by"]), p["h0"], p["x"])
    hs_zero = elman_forward(p["x"], 0 * p["h0"], p["Wx"], p["Wh"], p["b"])[0]
    given = None
    if unroll is not None:
        given = Given.call(("unroll", "make_state_function", "make_output_function"), unroll,
                           Given.call("make_state_function", make_state_function, p["Wx"], p["Wh"], p["b"]),
                           Given.call("make_output_function", make_output_function, p["Wy"], p["by"]),
                           p["h0"], p["x"], item=1)
    assert_close("ys", got, expected, axes=OUT_AXES, given=given, variants={
        "the outputs of an Elman RNN that starts from zeros instead of h0":
            lambda: softmax(hs_zero @ p["Wy"] + p["by"]),
        "the hidden states, without the output function O": lambda: elman_forward(*args[:5])[0],
    })


def predict_edge_sizes(elman_predict, unroll=None, make_state_function=None, make_output_function=None):
    """Edge case T = 1 and H = 1."""
    predict_values(elman_predict, unroll, make_state_function, make_output_function,
                   test="predict_edge_sizes", T=1, H=1)


# --- exercise 4: one step with a cache -----------------------------------------------------------

def step_values(elman_step_forward_student, test="step_values", **sizes):
    """elman_step_forward(x, h_prev, Wx, Wh, b) returns (h, cache) with h as in rnn_ref, a new
    array, leaving its inputs unchanged (the forward passes h0 as h_prev at t = 0)."""
    p = draw(rng(test), T=1, square=True, **sizes)
    x, h = p["x"][:, 0], p["h0"]
    call = call_student(elman_step_forward_student, x, h, p["Wx"], p["Wh"], p["b"],
                        shape_hint=SHAPES, outputs=("h", "cache"))
    got, _ = unpack("elman_step_forward", call.value, 2)
    assert_close("h", got, elman_step_forward(x, h, p["Wx"], p["Wh"], p["b"])[0], axes=STEP_AXES,
                 variants=_step_variants(x, h, p["Wx"], p["Wh"], p["b"]))
    assert_unchanged(call, "elman_step_forward")
    assert_not_aliased(call, "elman_step_forward", outputs=("h",))


def step_single_unit(elman_step_forward_student):
    """Edge case H = 1, N = 1."""
    step_values(elman_step_forward_student, test="step_single_unit", N=1, H=1)


# --- exercise 5: the sequence forward --------------------------------------------------------------

def _forward(elman_forward_student, test, **sizes):
    p = draw(rng(test), **sizes)
    args = [p[k] for k in ("x", "h0", "Wx", "Wh", "b")]
    call = call_student(elman_forward_student, *args, shape_hint=SHAPES, outputs=("hs", "cache"))
    hs, _ = unpack("elman_forward", call.value, 2)
    return call, hs, args


def forward_shape(elman_forward_student):
    """hs has shape (N, T, H): batch first, one hidden state per step, h0 not included."""
    _, hs, args = _forward(elman_forward_student, "forward_shape")
    (N, T, _), H = args[0].shape, args[1].shape[1]
    assert_shape("hs", hs, (N, T, H), axes=SEQ_AXES, hint="hs holds h_1 ... h_T (not h0).")


def forward_values(elman_forward_student, elman_step_forward_student=None, test="forward_values", **sizes):
    """hs equals rnn_ref's elman_forward at every time step; or, when the student's step is wrong,
    every state is the student's step applied to the state before (follow-through)."""
    _, hs, args = _forward(elman_forward_student, test, square=True, **sizes)
    given = (Given.recurrence("elman_step_forward", elman_step_forward_student, *args, item=0)
             if elman_step_forward_student is not None else None)
    assert_close("hs", hs, elman_forward(*args)[0], axes=SEQ_AXES, given=given,
                 variants=_sequence_variants(*args))


def forward_inputs_unchanged(elman_forward_student):
    """elman_forward leaves x, h0 and the weights as they were, and hs is an array of its own."""
    call, _, _ = _forward(elman_forward_student, "forward_inputs_unchanged")
    assert_unchanged(call, "elman_forward")
    assert_not_aliased(call, "elman_forward", outputs=("hs",))


def forward_edge_sizes(elman_forward_student, elman_step_forward_student=None):
    """Edge cases T = 1, then H = 1 with N = 1."""
    forward_values(elman_forward_student, elman_step_forward_student, test="forward_single_step", T=1)
    forward_values(elman_forward_student, elman_step_forward_student, test="forward_single_unit", N=1, H=1)
