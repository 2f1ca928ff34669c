"""Checks for assignment a2_bptt: Elman step and sequence backward, centred differences, truncated BPTT.

The forward passes are rnn_ref's (given in the notebook), so the caches the student's backward
functions read are rnn_ref's: step cache (x, h_prev, Wx, Wh, h, activation), sequence cache
(x, h0, Wx, Wh, hs, activation). Shapes: x (N, T, D), h (N, H), Wx (D, H), Wh (H, H), b (H,).
"""

import numpy as np

from rnn_ref.bptt import full_bptt, truncated_bptt
from rnn_ref.elman import elman_backward, elman_forward, elman_step_backward, elman_step_forward

from rnn_course.callbacks import Smooth

from rnn_course.gradients import judge_backward, judge_step_backward

from . import loops
from .common import (CheckFailed, assert_not_aliased, assert_close, assert_scalar_close, assert_shape,
                     assert_unchanged, call_student, rng, unpack)
from .elman import draw

STEP_NAMES = ("dx", "dh_prev", "dWx", "dWh", "db")
SEQ_NAMES = ("dx", "dh0", "dWx", "dWh", "db")
SHAPES = ("Shapes: da (N, H) = dh * (1 - h**2); dx = da @ Wx.T (N, D), dh_prev = da @ Wh.T (N, H), "
          "dWx = x.T @ da (D, H), dWh = h_prev.T @ da (H, H), db = da summed over rows (H,).")


def _axes(name, ndim):
    """Axis names of a gradient, for messages."""
    if name in ("dWx", "dWh"):
        return ("row", "column")
    if name == "db":
        return ("unit",)
    if name == "dx" and ndim == 3:
        return ("batch row", "time step t", "input feature")
    return ("batch row", "unit")


# --- exercise 1: one step backward --------------------------------------------------------------

def _step_case(test, **sizes):
    r = rng(test)
    p = draw(r, T=1, square=True, **sizes)
    x, h_prev = p["x"][:, 0], p["h0"]
    h, cache = elman_step_forward(x, h_prev, p["Wx"], p["Wh"], p["b"])
    dh = r.standard_normal(h.shape)
    return dh, cache, (x, h_prev, p["Wx"], p["Wh"], h)


def _step_variants(dh, x, h_prev, Wx, Wh, h):
    """{description: {gradient name: array}} of the usual step-backward mistakes."""
    def grads(da, Wh_used=Wh, Wx_used=Wx, h_used=h_prev):
        return dict(zip(STEP_NAMES, (da @ Wx_used.T, da @ Wh_used.T, x.T @ da, h_used.T @ da, da.sum(axis=0))))

    da = dh * (1 - h * h)
    return {
        "the gradients without the tanh derivative (da = dh instead of dh * (1 - h**2))": grads(dh),
        "the gradients with the derivative 1 - h instead of 1 - h**2": grads(dh * (1 - h)),
        "the gradients with the derivative (1 - h)**2 instead of 1 - h**2": grads(dh * (1 - h) ** 2),
        "the gradients with Wh not transposed (dh_prev = da @ Wh)": grads(da, Wh_used=Wh.T),
        "the gradients with Wx not transposed (dx = da @ Wx)": grads(da, Wx_used=Wx.T),
        "the gradients with the derivative taken at h_prev": grads(dh * (1 - h_prev * h_prev)),
        "the gradients with the opposite sign (da = -dh * (1 - h**2))": grads(-da),
        "dWh = h.T @ da, with the step's output h: Wh multiplies the step's input, so dWh = h_prev.T @ da":
            grads(da, h_used=h),
    }


def _call_step(elman_step_backward_student, dh, cache):
    call = call_student(elman_step_backward_student, dh, cache, names=["dh", "cache"],
                        shape_hint=SHAPES)
    return call, unpack("elman_step_backward", call.value, 5)


def step_backward_shapes(elman_step_backward_student):
    """Five gradients, each of the shape of its input: dx (N, D), dh_prev (N, H), dWx, dWh, db."""
    r = rng("step_backward_shapes")
    p = draw(r, T=1)
    x, h_prev = p["x"][:, 0], p["h0"]
    h, cache = elman_step_forward(x, h_prev, p["Wx"], p["Wh"], p["b"])
    _, got = _call_step(elman_step_backward_student, r.standard_normal(h.shape), cache)
    for name, value, like in zip(STEP_NAMES, got, (x, h_prev, p["Wx"], p["Wh"], p["b"])):
        assert_shape(name, value, like.shape, hint="A gradient has the shape of what it is the gradient of.")


def step_backward_values(elman_step_backward_student, test="step_backward_values", **sizes):
    """Every gradient of one step against rnn_ref's elman_step_backward (the forward is given)."""
    dh, cache, parts = _step_case(test, **sizes)
    judge_step_backward("elman", None, elman_step_backward_student, None, (dh,), None,
                        elman_step_backward(dh, cache), cache=cache,
                        variants=loops.prune(_step_variants(dh, *parts), STEP_NAMES, elman_step_backward(dh, cache)),
                        unchanged=False)


def step_backward_single_unit(elman_step_backward_student):
    """Edge case H = 1, N = 1: the sums over the batch must keep their shapes."""
    step_backward_values(elman_step_backward_student, test="step_backward_single_unit", N=1, H=1)


def step_backward_dh_unchanged(elman_step_backward_student):
    """The upstream gradient dh is read, never written (no `dh *= ...`)."""
    dh, cache, _ = _step_case("step_backward_dh_unchanged")
    call, _ = _call_step(elman_step_backward_student, dh, cache)
    assert_unchanged(call, "elman_step_backward")


# --- exercise 2: backpropagation through time ----------------------------------------------------

def _seq_case(test, **sizes):
    r = rng(test)
    p = draw(r, square=True, **sizes)
    hs, cache = elman_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
    return r.standard_normal(hs.shape), cache


def _step_caches(cache, h_prev_of=None):
    """The per-step caches (x_t, h_prev, Wx, Wh, h_t, "tanh") of the given forward's sequence cache;
    h_prev_of(t) picks the previous state (default: h0 at t = 0, else hs[:, t - 1])."""
    x, h0, Wx, Wh, hs, _ = cache
    h_prev_of = h_prev_of or (lambda t: hs[:, t - 1] if t > 0 else h0)
    return [(x[:, t], h_prev_of(t), Wx, Wh, hs[:, t], "tanh") for t in range(x.shape[1])]


def _seq_variants(dhs, cache):
    """Usual BPTT mistakes, each rnn_ref's step backward run in a loop the wrong way:
    {description: {gradient name: array}}."""
    x, h0, Wx, Wh, hs, _ = cache
    out = loops.slip_variants(elman_step_backward, _step_caches(cache), dhs, SEQ_NAMES, 1)
    T = x.shape[1]
    for description, pick in (
            ("BPTT with h_prev at t = 0 taken as hs[:, t - 1] = hs[:, -1] (the last hidden state: Python's "
             "negative index): the state before step 0 is h0", lambda t: hs[:, t - 1]),
            ("BPTT with h_prev = hs[:, t], the step's own output: the state before step t is hs[:, t - 1] "
             "(h0 at t = 0)", lambda t: hs[:, t])):
        if T > 1 or description.startswith("BPTT with h_prev = hs"):
            grads, _ = loops.bptt_loop(elman_step_backward, _step_caches(cache, pick), dhs, 1)
            out[description] = dict(zip(SEQ_NAMES, grads))
    return out


def _call_seq(elman_backward_student, dhs, cache):
    call = call_student(elman_backward_student, dhs, cache, names=["dhs", "cache"], shape_hint=SHAPES)
    return call, unpack("elman_backward", call.value, 5)


def backward_shapes(elman_backward_student):
    """dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)."""
    r = rng("backward_shapes")
    p = draw(r)
    hs, cache = elman_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
    _, got = _call_seq(elman_backward_student, r.standard_normal(hs.shape), cache)
    for name, value, like in zip(SEQ_NAMES, got, (p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])):
        assert_shape(name, value, like.shape, hint="A gradient has the shape of what it is the gradient of.")


def backward_values(elman_step_backward_student, elman_backward_student, test="backward_values", **sizes):
    """Every gradient of the sequence against rnn_ref's elman_backward (the forward is given):
    names loop slips, and where in time the error starts; a BPTT right given the student's step
    backward passes."""
    dhs, cache = _seq_case(test, **sizes)
    expected = elman_backward(dhs, cache)
    judge_backward("elman", None, elman_backward_student, None, dhs, None, expected, cache=cache,
                   variants=loops.prune(_seq_variants(dhs, cache), SEQ_NAMES, expected),
                   step_backward=elman_step_backward_student, step_caches=_step_caches(cache))


def backward_dhs_unchanged(elman_backward_student):
    """dhs is read, never written (the CS231n trap: `dhs[:, t] += dh_next`)."""
    dhs, cache = _seq_case("backward_dhs_unchanged")
    call, _ = _call_seq(elman_backward_student, dhs, cache)
    assert_unchanged(call, "elman_backward")


def backward_single_step(elman_step_backward_student, elman_backward_student):
    """Edge case T = 1: BPTT is one step backward."""
    backward_values(elman_step_backward_student, elman_backward_student, test="backward_single_step", T=1)


# --- exercise 3: centred differences -------------------------------------------------------------

def _smooth_case(test, shape):
    """A smooth scalar function f(x) = sum(G * tanh(x @ W)) + sum(x**2) / 2 with its exact gradient.

    The quadratic term keeps every second derivative away from zero, so one-sided differences
    (error about h f''(x) / 2) always fail the tolerance while centred ones pass.
    """
    r = rng(test)
    x = r.standard_normal(shape)
    W = r.standard_normal((shape[-1], 3))
    G = r.standard_normal(shape[:-1] + (3,))
    f = Smooth(G, W)
    grad = (G * (1 - np.tanh(x @ W) ** 2)) @ W.T + x
    return f, x, grad


def _numgrad(numerical_gradient, test, shape, h=5e-5, compare=True):
    f, x, grad = _smooth_case(test, shape)
    call = call_student(numerical_gradient, f, x, h, names=["f", "x", "h"])
    if not compare:
        return call
    forward = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        forward[i] = (f(x + step) - f(x)) / h
    centred = call.value
    assert_close("numerical_gradient(f, x)", centred, grad, axes=("row", "column") if x.ndim == 2 else ("entry",),
                 atol=1e-7, rtol=1e-6,
                 variants={"one-sided differences (f(x + h) - f(x)) / h; the course uses centred "
                           "differences (f(x + h) - f(x - h)) / (2h)": forward,
                           "centred differences divided by h instead of 2h": lambda: 2 * grad})


def numgrad_values(numerical_gradient):
    """The centred-difference gradient of a smooth function of a vector, against the exact one."""
    r = rng("numgrad_values")
    _numgrad(numerical_gradient, "numgrad_values", (int(r.integers(3, 7)),))


def numgrad_x_unchanged(numerical_gradient):
    """x is the same after the call, bit for bit (perturb a copy, or restore the saved value)."""
    call = _numgrad(numerical_gradient, "numgrad_x_unchanged", (4,), compare=False)
    assert_unchanged(call, "numerical_gradient")


def numgrad_matrix(numerical_gradient):
    """x may have any shape: here a matrix (N, D)."""
    r = rng("numgrad_matrix")
    _numgrad(numerical_gradient, "numgrad_matrix", (int(r.integers(2, 4)), int(r.integers(2, 5))))


# --- exercise 4: truncated BPTT ------------------------------------------------------------------

def _tbptt_case(test, T=None, k=None):
    r = rng(test)
    N, D, H, K = int(r.integers(2, 4)), int(r.integers(2, 5)), int(r.integers(3, 6)), int(r.integers(3, 6))
    T = T or int(r.integers(7, 10))
    k = k or int(r.choice([k for k in range(2, T - 1) if T % k]))  # a last chunk shorter than k
    p = draw(r, N=N, T=T, D=D, H=H, K=K)
    params = {name: p[name] for name in ("Wx", "Wh", "b", "Wy", "by")}
    y = r.integers(0, K, size=(N, T))
    return params, p["x"], y, p["h0"], k


def _call_tbptt(truncated_bptt_student, params, x, y, h0, k, with_call=False):
    call = call_student(truncated_bptt_student, params, x, y, h0, k,
                        names=["params", "x", "y", "h0", "k"], outputs=("loss", "grads", "h_last"),
                        own_implementation=("rnn_ref.bptt.truncated_bptt",))
    loss, grads, h_last = unpack("truncated_bptt", call.value, 3)
    if not isinstance(grads, dict) or set(grads) != set(params):
        raise CheckFailed(f"truncated_bptt should return grads as a dict with the keys "
                          f"{sorted(params)}, got {grads!r:.80}.")
    return (loss, grads, h_last, call) if with_call else (loss, grads, h_last)


def _tbptt_run(params, x, y, h0, k, slip=None):
    """Truncated BPTT with rnn_ref's full_bptt on each chunk, optionally slipped (see the table in
    :func:`_tbptt_variants`); returns (loss, grads, h_last, grads of the last chunk)."""
    T = x.shape[1]
    size = {"chunk_too_long": k + 1, "chunk_too_short": k - 1}.get(slip, k)
    stop = T - k + 1 if slip == "last_chunk_dropped" else T
    loss, grads, h, last = 0.0, {n: np.zeros_like(v) for n, v in params.items()}, h0, None
    for start in range(0, stop, k):
        if size < 1:
            return None
        chunk = slice(start, start + size)
        chunk_loss, last, h_end = full_bptt(params, x[:, chunk], y[:, chunk], h0 if slip == "state_not_carried" else h)
        h = h_end
        loss += chunk_loss
        for n in grads:
            grads[n] += last[n]
    return loss, grads, h, last


TBPTT_SLIPS = {
    "last_chunk_dropped": "truncated BPTT that drops the last, shorter chunk (range(0, T - k + 1, k) or "
                          "T // k chunks): when k does not divide T, the last chunk has the remaining "
                          "T % k steps and still counts",
    "state_not_carried": "chunks that each start again from h0 instead of carrying the hidden state",
    "chunk_too_long": "chunks of k + 1 steps (x[:, start:start + k + 1]) starting every k steps: "
                      "neighbouring chunks overlap by one step",
    "chunk_too_short": "chunks of k - 1 steps (x[:, start:start + k - 1]) starting every k steps: one "
                       "step of every chunk is left out",
}


def _tbptt_variants(params, x, y, h0, k):
    """{description: (loss, grads, h_last)} of the usual truncated-BPTT mistakes."""
    out = {"full BPTT: the gradients were not cut at the chunk borders (the gradient was carried "
           "across chunks)": full_bptt(params, x, y, h0)}
    for key, description in TBPTT_SLIPS.items():
        run = _tbptt_run(params, x, y, h0, k, key)
        if run is not None:
            out[description] = run[:3]
    last = _tbptt_run(params, x, y, h0, k)[3]
    out["the gradients of the last chunk only (not summed over the chunks)"] = (None, last, None)
    return out


def truncated_grads(truncated_bptt_student, test="truncated_grads", T=None, k=None):
    """The summed chunk gradients against rnn_ref.bptt.truncated_bptt (k between 2 and T - 2)."""
    params, x, y, h0, k = _tbptt_case(test, T, k)
    _, grads, _ = _call_tbptt(truncated_bptt_student, params, x, y, h0, k)
    _, expected, _ = truncated_bptt(params, x, y, h0, k)
    variants = _tbptt_variants(params, x, y, h0, k)
    for name in ("Wx", "Wh", "b", "Wy", "by"):
        assert_close(f"grads['{name}']", grads[name], expected[name],
                     axes=("row", "column") if expected[name].ndim == 2 else ("entry",),
                     variants={d: v[1][name] for d, v in variants.items()},
                     hint=f"(k = {k}, T = {x.shape[1]})")


def truncated_loss_and_state(truncated_bptt_student):
    """The loss is the sum of the chunk losses; h_last is the state after the last step. The
    caller's params and h0 stay as they were, and no result is (a view of) one of them."""
    params, x, y, h0, k = _tbptt_case("truncated_loss_and_state")
    loss, _, h_last, call = _call_tbptt(truncated_bptt_student, params, x, y, h0, k, with_call=True)
    assert_unchanged(call, "truncated_bptt")
    assert_not_aliased(call, "truncated_bptt")
    ref_loss, _, ref_h = truncated_bptt(params, x, y, h0, k)
    variants = {d: v[2] for d, v in _tbptt_variants(params, x, y, h0, k).items() if v[2] is not None}
    assert_close("h_last", h_last, ref_h, axes=("batch row", "unit"), variants=variants,
                 hint=f"(k = {k}, T = {x.shape[1]})")
    assert_scalar_close("loss", loss, ref_loss, tol=1e-8 * max(1.0, abs(ref_loss)),
                        hint="The loss of the sequence is the sum of the losses of its chunks, the "
                             f"last one shorter when k does not divide T (k = {k}, T = {x.shape[1]}).")


def truncated_extreme_windows(truncated_bptt_student):
    """k = 1 (every step its own chunk) and k >= T (one chunk: full BPTT)."""
    truncated_grads(truncated_bptt_student, test="truncated_k1", T=5, k=1)
    truncated_grads(truncated_bptt_student, test="truncated_k_full", T=5, k=7)
