"""Checks for assignment a2_bptt: Elman step and sequence backward, centred differences, truncated BPTT.

The forward passes are rnn_ref's (given in the notebook), so the caches the student's backward
functions read are rnn_ref's: step cache (x, h_prev, Wx, Wh, h, activation), sequence cache
(x, h0, Wx, Wh, hs, activation). Shapes: x (N, T, D), h (N, H), Wx (D, H), Wh (H, H), b (H,).
"""

import numpy as np

from rnn_ref.bptt import full_bptt, truncated_bptt
from rnn_ref.elman import elman_backward, elman_forward, elman_step_backward, elman_step_forward

from rnn_course.callbacks import Smooth

from .common import (CheckFailed, assert_close, assert_scalar_close, assert_shape,
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


def _compare_all(names, got, expected, variants):
    """assert_close on every gradient in order; variants: {description: tuple of gradients}."""
    for k, name in enumerate(names):
        assert_close(name, got[k], expected[k], axes=_axes(name, np.ndim(expected[k])),
                     variants={d: (lambda v=v, k=k: v()[k]) for d, v in variants.items()})


# --- exercise 1: one step backward --------------------------------------------------------------

def _step_case(test, **sizes):
    r = rng(test)
    p = draw(r, T=1, square=True, **sizes)
    x, h_prev = p["x"][:, 0], p["h0"]
    h, cache = elman_step_forward(x, h_prev, p["Wx"], p["Wh"], p["b"])
    dh = r.standard_normal(h.shape)
    return dh, cache, (x, h_prev, p["Wx"], p["Wh"], h)


def _step_variants(dh, x, h_prev, Wx, Wh, h):
    def grads(da, Wh_used=Wh):
        return (da @ Wx.T, da @ Wh_used.T, x.T @ da, h_prev.T @ da, da.sum(axis=0))

    return {
        "the gradients without the tanh derivative (da = dh instead of dh * (1 - h**2))": lambda: grads(dh),
        "the gradients with the derivative 1 - h instead of 1 - h**2": lambda: grads(dh * (1 - h)),
        "the gradients with Wh not transposed (dh_prev = da @ Wh)": lambda: grads(dh * (1 - h * h), Wh.T),
        "the gradients with the derivative taken at h_prev": lambda: grads(dh * (1 - h_prev * h_prev)),
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
    """Every gradient of one step against rnn_ref's elman_step_backward."""
    dh, cache, parts = _step_case(test, **sizes)
    _, got = _call_step(elman_step_backward_student, dh, cache)
    _compare_all(STEP_NAMES, got, elman_step_backward(dh, cache), _step_variants(dh, *parts))


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


def _seq_variants(dhs, cache):
    """Usual BPTT mistakes, each computed with rnn_ref's step backward run the wrong way."""
    x, h0, Wx, Wh, hs, _ = cache
    T = x.shape[1]
    h_prevs = [h0] + [hs[:, t] for t in range(T - 1)]

    def steps(carry=True):
        """Per-step gradients [(dx_t, dh_prev_t, dWx_t, dWh_t, db_t)] from t = T-1 down to 0."""
        out, dh_next = [], np.zeros_like(h0)
        for t in reversed(range(T)):
            step_cache = (x[:, t], h_prevs[t], Wx, Wh, hs[:, t], "tanh")
            g = elman_step_backward(dhs[:, t] + (dh_next if carry else 0), step_cache)
            out.append((t, g))
            dh_next = g[1]
        return out

    def assemble(per_step, last_only=False):
        dx = np.zeros_like(x)
        for t, g in per_step:
            dx[:, t] = g[0]
        weights = [g[2:] for _, g in per_step]
        summed = weights[-1] if last_only else [sum(w[i] for w in weights) for i in range(3)]
        return (dx, per_step[-1][1][1], *summed)

    correct = elman_backward(dhs, cache)
    return {
        "BPTT with the weight gradients of step t = 0 only (assigned in the loop, not summed over "
        "time)": lambda: assemble(steps(), last_only=True),
        "BPTT with dh0 missing (zeros)": lambda: (correct[0], np.zeros_like(h0), *correct[2:]),
        "BPTT without the gradient flowing back through h (each step sees only its own dhs[:, t])":
            lambda: assemble(steps(carry=False)),
    }


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


def backward_values(elman_backward_student, test="backward_values", **sizes):
    """Every gradient of the sequence against rnn_ref's elman_backward."""
    dhs, cache = _seq_case(test, **sizes)
    _, got = _call_seq(elman_backward_student, dhs, cache)
    _compare_all(SEQ_NAMES, got, elman_backward(dhs, cache), _seq_variants(dhs, cache))


def backward_dhs_unchanged(elman_backward_student):
    """dhs is read, never written (the CS231n trap: `dhs[:, t] += dh_next`)."""
    dhs, cache = _seq_case("backward_dhs_unchanged")
    call, _ = _call_seq(elman_backward_student, dhs, cache)
    assert_unchanged(call, "elman_backward")


def backward_single_step(elman_backward_student):
    """Edge case T = 1: BPTT is one step backward."""
    backward_values(elman_backward_student, test="backward_single_step", T=1)


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
    T = T or int(r.integers(6, 10))
    k = k or int(r.integers(2, T - 1))
    p = draw(r, N=N, T=T, D=D, H=H, K=K)
    params = {name: p[name] for name in ("Wx", "Wh", "b", "Wy", "by")}
    y = r.integers(0, K, size=(N, T))
    return params, p["x"], y, p["h0"], k


def _call_tbptt(truncated_bptt_student, params, x, y, h0, k):
    call = call_student(truncated_bptt_student, params, x, y, h0, k,
                        names=["params", "x", "y", "h0", "k"],
                        own_implementation=("rnn_ref.bptt.truncated_bptt",))
    loss, grads, h_last = unpack("truncated_bptt", call.value, 3)
    if not isinstance(grads, dict) or set(grads) != set(params):
        raise CheckFailed(f"truncated_bptt should return grads as a dict with the keys "
                          f"{sorted(params)}, got {grads!r:.80}.")
    return loss, grads, h_last


def _tbptt_variants(params, x, y, h0, k):
    T = x.shape[1]

    def chunks(carry=True):
        grads, h = {n: np.zeros_like(v) for n, v in params.items()}, h0
        last = None
        for start in range(0, T, k):
            _, g, h_end = full_bptt(params, x[:, start:start + k], y[:, start:start + k], h if carry else h0)
            h, last = h_end, g
            for n in grads:
                grads[n] += g[n]
        return grads, last

    return {
        "full BPTT: the gradients were not cut at the chunk borders": lambda: full_bptt(params, x, y, h0)[1],
        "chunks that each start again from h0 instead of carrying the hidden state":
            lambda: chunks(carry=False)[0],
        "the gradients of the last chunk only (not summed over the chunks)": lambda: chunks()[1],
    }


def truncated_grads(truncated_bptt_student, test="truncated_grads", T=None, k=None):
    """The summed chunk gradients against rnn_ref.bptt.truncated_bptt (k between 2 and T - 2)."""
    params, x, y, h0, k = _tbptt_case(test, T, k)
    _, grads, _ = _call_tbptt(truncated_bptt_student, params, x, y, h0, k)
    _, expected, _ = truncated_bptt(params, x, y, h0, k)
    variants = _tbptt_variants(params, x, y, h0, k)
    for name in ("Wx", "Wh", "b", "Wy", "by"):
        assert_close(f"grads['{name}']", grads[name], expected[name],
                     axes=("row", "column") if expected[name].ndim == 2 else ("entry",),
                     variants={d: (lambda v=v, name=name: v()[name]) for d, v in variants.items()},
                     hint=f"(k = {k}, T = {x.shape[1]})")


def truncated_loss_and_state(truncated_bptt_student):
    """The loss is the sum of the chunk losses; h_last is the state after the last step."""
    params, x, y, h0, k = _tbptt_case("truncated_loss_and_state")
    loss, _, h_last = _call_tbptt(truncated_bptt_student, params, x, y, h0, k)
    ref_loss, _, ref_h = truncated_bptt(params, x, y, h0, k)
    assert_scalar_close("loss", loss, ref_loss, tol=1e-8 * max(1.0, abs(ref_loss)),
                        hint="The loss of the sequence is the sum of the losses of its chunks.")
    assert_close("h_last", h_last, ref_h, axes=("batch row", "unit"))


def truncated_extreme_windows(truncated_bptt_student):
    """k = 1 (every step its own chunk) and k >= T (one chunk: full BPTT)."""
    truncated_grads(truncated_bptt_student, test="truncated_k1", T=5, k=1)
    truncated_grads(truncated_bptt_student, test="truncated_k_full", T=5, k=7)
