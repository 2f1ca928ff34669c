"""Checks for a6_birnn: the student's bidirectional wrapper (padded batches, per-sequence lengths).

The wrapper runs the given Elman functions (rnn_ref.elman) in both directions; that is allowed,
calling rnn_ref.birnn (or a torch RNN) is not. Each usual mistake is the same pieces put
together the wrong way (:func:`forward_variants`, :func:`backward_variants`): the backward
direction's outputs left in reversed order, sequences reversed over all T steps instead of
their own length, the halves concatenated in the other order, padding not zeroed.
"""

import numpy as np

from rnn_ref.birnn import birnn_backward, birnn_forward, reverse_within_lengths, step_mask
from rnn_ref.elman import elman_backward, elman_forward

from .common import (CheckFailed, Given, assert_close, assert_not_aliased, assert_unchanged, call_student,
                     rng, unpack)

SEQ_AXES = ("batch row", "time step t", "unit (forward half first)")
PARAM_NAMES = ("h0", "Wx", "Wh", "b")


def _call(fn, *args, names, outputs=None):
    """call_student for the wrapper: the given Elman functions are allowed, rnn_ref.birnn and torch's RNNs not."""
    return call_student(fn, *args, names=names, own_implementation=("rnn_ref.birnn",), outputs=outputs,
                        asks_for="your own wrapper around the Elman functions, so its tests score 0")


# ---------------------------------------------------------------------------------------------
# The usual mistakes: the same pieces put together the wrong way.

def full_reverse(a, lengths):
    """a (N, T, ...) reversed over all T steps, ignoring lengths (the padded end comes first)."""
    return a[:, ::-1]


REVERSE_FULL = ("each sequence reversed over all T steps: reverse only its real steps 0 .. lengths[n]-1 "
                "and leave the padding where it is")


def shifted_reverse(a, lengths, shift):
    """reverse_within_lengths over lengths[n] + shift steps (clipped to 0 .. T): a slip of one step."""
    T = a.shape[1]
    return reverse_within_lengths(a, np.clip(np.asarray(lengths) + shift, 0, T))


def reverse_variants(a, lengths):
    """The recognised wrong reversals of a (N, T, ...): {description: array}."""
    return {
        REVERSE_FULL: full_reverse(a, lengths),
        "each sequence reversed over lengths[n] + 1 steps: the reversal takes in one padded step "
        "(a[n, :length + 1]); the real steps are 0 .. lengths[n]-1":
            lambda: shifted_reverse(a, lengths, 1),
        "each sequence reversed over lengths[n] - 1 steps: its last real step is left in place "
        "(a[n, :length - 1]); the real steps are 0 .. lengths[n]-1":
            lambda: shifted_reverse(a, lengths, -1),
        "the input unchanged: nothing was reversed": a,
    }


def _directions(x, pf, pb, lengths, reverse=reverse_within_lengths):
    """(h_fwd, h_bwd as computed on the reversed input, not yet re-reversed), each (N, T, H)."""
    return elman_forward(x, **pf)[0], elman_forward(reverse(x, lengths), **pb)[0]


def forward_with(x, pf, pb, lengths, reverse=reverse_within_lengths, mask_shift=0):
    """The bidirectional output with a chosen reversal (the student's own, for follow-through) and a
    mask over t < lengths[n] + mask_shift."""
    mask = step_mask(np.asarray(lengths) + mask_shift, x.shape[1])[:, :, None]
    h_f, h_b = _directions(x, pf, pb, lengths, reverse=reverse)
    return np.concatenate([h_f, as_array_of(reverse(h_b, lengths))], axis=2) * mask


def as_array_of(value):
    return np.asarray(value, dtype=float)


def forward_variants(x, pf, pb, lengths):
    """The recognised wrong wrappers: {description: out (N, T, 2H)}."""
    mask = step_mask(lengths, x.shape[1])[:, :, None]
    h_f, h_b = _directions(x, pf, pb, lengths)
    h_f2, h_b_full = _directions(x, pf, pb, lengths, reverse=full_reverse)
    right_bwd = reverse_within_lengths(h_b, lengths)
    unreversed_input = reverse_within_lengths(elman_forward(x, **pb)[0], lengths)
    return {
        "a mask that keeps one padded step (t <= lengths[n] instead of t < lengths[n]): the first "
        "padded step of each sequence must be zero too": lambda: forward_with(x, pf, pb, lengths, mask_shift=1),
        "a mask that also zeroes the last real step (t < lengths[n] - 1 instead of t < lengths[n])":
            lambda: forward_with(x, pf, pb, lengths, mask_shift=-1),
        "both directions run with params_fwd: the backward direction has its own parameters, "
        "params_bwd": lambda: forward_with(x, pf, pf, lengths),
        "a backward direction run on x in its original order (only its outputs reversed): it must "
        "read the reversed input, x_T ... x_1 within each length":
            lambda: np.concatenate([h_f, unreversed_input], axis=2) * mask,
        "each sequence's backward direction reversed over lengths[n] + 1 steps (one padded step "
        "taken in): reverse over the real steps 0 .. lengths[n]-1 only":
            lambda: forward_with(x, pf, pb, lengths, reverse=lambda a, L: shifted_reverse(a, L, 1)),
        "each sequence's backward direction reversed over lengths[n] - 1 steps (its last real step "
        "left in place): reverse over all the real steps 0 .. lengths[n]-1":
            lambda: forward_with(x, pf, pb, lengths, reverse=lambda a, L: shifted_reverse(a, L, -1)),
        "the backward direction left in reversed order: after running it on the reversed input, "
        "reverse its outputs back so that step t holds the state that has read x_T ... x_t":
            np.concatenate([h_f, h_b], axis=2) * mask,
        "a backward direction that starts at the padded end (lengths ignored): sequence n must be "
        "read backwards from its own last real step lengths[n]-1":
            np.concatenate([h_f2, full_reverse(h_b_full, lengths)], axis=2) * mask,
        "a backward direction that starts at the padded end (lengths ignored) and padding left "
        "nonzero: read sequence n backwards from its last real step, and zero the padded steps":
            np.concatenate([h_f2, full_reverse(h_b_full, lengths)], axis=2),
        "the halves in the other order: the output is [h_forward ; h_backward] on the last axis":
            np.concatenate([right_bwd, h_f], axis=2) * mask,
        "the right values at real steps but not zero at padded steps: multiply by the mask "
        "t < lengths[n]": np.concatenate([h_f, right_bwd], axis=2),
    }


def backward_variants(x, pf, pb, lengths, dout):
    """The recognised wrong backward passes: {"dx" / "fwd:<name>" / "bwd:<name>": {description: array}}."""
    T, H = x.shape[1], pf["Wh"].shape[0]
    mask = step_mask(lengths, T)[:, :, None]
    _, cache_f = elman_forward(x, **pf)
    _, cache_b = elman_forward(reverse_within_lengths(x, lengths), **pb)

    def run(dout, reverse_dout=True, rereverse_dx=True, add_bwd=True):
        dx_f, *g_f = elman_backward(dout[:, :, :H], cache_f)
        d_b = dout[:, :, H:]
        dx_b, *g_b = elman_backward(reverse_within_lengths(d_b, lengths) if reverse_dout else d_b, cache_b)
        dx = dx_f + (reverse_within_lengths(dx_b, lengths) if rereverse_dx else dx_b) * add_bwd
        return {"dx": dx, **{f"fwd:{k}": g for k, g in zip(PARAM_NAMES, g_f)},
                **{f"bwd:{k}": g for k, g in zip(PARAM_NAMES, g_b)}}

    def run_with(dout, half_bwd=slice(None), swap=False, reverse=reverse_within_lengths):
        """The backward with the backward direction fed dout[:, :, half_bwd], lengths-reversal
        ``reverse``, or the two directions' gradients swapped."""
        dx_f, *g_f = elman_backward(dout[:, :, :H], cache_f)
        d_b = dout[:, :, H:] if half_bwd == slice(None) else dout[:, :, half_bwd]
        dx_b, *g_b = elman_backward(reverse(d_b, lengths), cache_b)
        dx = dx_f + reverse(dx_b, lengths)
        if swap:
            g_f, g_b = g_b, g_f
        return {"dx": dx, **{f"fwd:{k}": g for k, g in zip(PARAM_NAMES, g_f)},
                **{f"bwd:{k}": g for k, g in zip(PARAM_NAMES, g_b)}}

    cases = {
        "grads_fwd and grads_bwd swapped: return (dx, grads of the forward direction, grads of the "
        "backward direction), in that order": run_with(dout * mask, swap=True),
        "the backward direction fed the forward half of dout (dout[:, :, :H]): its part of the "
        "gradient is dout[:, :, H:]": run_with(dout * mask, half_bwd=slice(None, H)),
        "a backward pass that reverses over all T steps (lengths ignored): reverse within each "
        "sequence's own length, as the forward does":
            run_with(dout * mask, reverse=full_reverse),
        "the backward direction's dx left in reversed order: reverse it back before adding it":
            run(dout * mask, rereverse_dx=False),
        "a backward pass that feeds the backward direction its upstream gradient in the original order: "
        "reverse dout's backward half within each length first, as the forward reversed x":
            run(dout * mask, reverse_dout=False),
        "dx of the forward direction alone: x feeds both directions, so add both parts":
            run(dout * mask, add_bwd=False),
        "gradients that use dout at padded steps: those outputs were zeroed, so their gradient "
        "must be zeroed too (multiply dout by the mask)": run(dout),
    }
    out = {key: {} for key in cases[next(iter(cases))]}
    for description, grads in cases.items():
        for key, g in grads.items():
            out[key][description] = g
    return out


# ---------------------------------------------------------------------------------------------
# Random problems.

def draw(test, N=None, T=None, D=None, H=None, full=False):
    """A random padded batch for the Elman BiRNN: x (N, T, D), lengths (N,) with one full-length
    sequence and one shorter (when N >= 2 and T >= 2; all T when ``full``), params_fwd /
    params_bwd {h0, Wx, Wh, b}, dout (N, T, 2H), a (N, T, 3) to reverse."""
    r = rng(test)
    N = N or int(r.integers(2, 5))
    T, D, H = (v or int(r.integers(3, 7)) for v in (T, D, H))
    lengths = np.full(N, T) if full else r.integers(1, T + 1, size=N)
    if N > 1 and T > 1 and not full:
        lengths[1] = int(r.integers(1, T))
    params = [{"h0": r.normal(size=(N, H)), "Wx": r.normal(scale=0.6, size=(D, H)),
               "Wh": r.normal(scale=0.6, size=(H, H)), "b": r.normal(scale=0.5, size=H)} for _ in range(2)]
    return {"x": r.normal(size=(N, T, D)), "lengths": lengths, "pf": params[0], "pb": params[1],
            "dout": r.normal(size=(N, T, 2 * H)), "a": r.normal(size=(N, T, 3))}


# ---------------------------------------------------------------------------------------------
# The graded tests: one public function per test cell of a6_birnn.

def reverse_values(reverse_within_lengths_student, test="reverse_values", **sizes):
    """reverse_within_lengths(a, lengths) against rnn_ref's, on a padded batch."""
    p = draw(test, **sizes)
    call = call_student(reverse_within_lengths_student, p["a"], p["lengths"], names=["a", "lengths"])
    assert_unchanged(call, "reverse_within_lengths")
    assert_close("reverse_within_lengths(a, lengths)", call.value, reverse_within_lengths(p["a"], p["lengths"]),
                 axes=("batch row", "time step t", "feature"), variants=reverse_variants(p["a"], p["lengths"]))
    assert_not_aliased(call, "reverse_within_lengths")


def reverse_edge_sizes(reverse_within_lengths_student):
    """Edge cases: T = 1; no padding at all; a sequence of length 0 (all padding). Each time a new
    array comes back, never the input or a view of it."""
    reverse_values(reverse_within_lengths_student, test="reverse_single_step", T=1)
    reverse_values(reverse_within_lengths_student, test="reverse_no_padding", full=True)
    p = draw("reverse_empty_sequence", N=3)
    lengths = np.array([p["a"].shape[1], 0, 1])
    call = call_student(reverse_within_lengths_student, p["a"], lengths, names=["a", "lengths"])
    assert_close("reverse_within_lengths(a, [T, 0, 1])", call.value, reverse_within_lengths(p["a"], lengths),
                 axes=("batch row", "time step t", "feature"), variants=reverse_variants(p["a"], lengths))
    assert_not_aliased(call, "reverse_within_lengths")


def _forward(birnn_forward_student, test, **sizes):
    p = draw(test, **sizes)
    args = (p["x"], p["pf"], p["pb"], p["lengths"])
    call = _call(birnn_forward_student, *args, names=["x", "params_fwd", "params_bwd", "lengths"],
                 outputs=("out", "cache"))
    out, cache = unpack("birnn_forward(...)", call.value, 2)
    return call, out, cache, p, args


def _reverse_with(reverse_student):
    """The student's reverse_within_lengths called as a check calls it (its output as an array)."""
    def reverse(a, lengths):
        return call_student(reverse_student, a, lengths, names=["a", "lengths"],
                            fn_name="reverse_within_lengths").value
    return reverse


def forward_values(birnn_forward_student, reverse_student=None, test="forward_values", **sizes):
    """The wrapper's output (N, T, 2H) against rnn_ref.birnn; names the usual wrapper mistakes.
    With ``reverse_student`` (hidden tests, where rnn_ref runs): an output that is right given the
    student's own reverse_within_lengths gets the points (follow-through)."""
    _, out, _, p, args = _forward(birnn_forward_student, test, **sizes)
    expected, _ = birnn_forward(p["x"], p["pf"], p["pb"], cell="elman", lengths=p["lengths"])
    given = None
    if reverse_student is not None:
        given = Given.call("reverse_within_lengths", forward_with, *args, _reverse_with(reverse_student))
    assert_close("out", out, expected, axes=SEQ_AXES, variants=forward_variants(*args), given=given)


def forward_without_padding(birnn_forward_student):
    """Every sequence has all T steps: the backward direction simply reads x_T ... x_1."""
    forward_values(birnn_forward_student, test="forward_without_padding", full=True)


def forward_inputs_unchanged(birnn_forward_student):
    """birnn_forward leaves x, the params and lengths as they were; out is an array of its own."""
    call, *_ = _forward(birnn_forward_student, "forward_inputs_unchanged")
    assert_unchanged(call, "birnn_forward")
    assert_not_aliased(call, "birnn_forward", outputs=("out",))


def forward_edge_sizes(birnn_forward_student, reverse_student=None):
    """Edge cases T = 1, then H = 1."""
    forward_values(birnn_forward_student, reverse_student, test="forward_single_step", T=1)
    forward_values(birnn_forward_student, reverse_student, test="forward_single_unit", H=1)


def _backward(birnn_forward_student, birnn_backward_student, test, **sizes):
    """The student's backward run on the cache of the student's forward. The forward is not
    judged here (its own tests do): a backward right for a correct forward, or the exact
    derivative of the student's own forward (follow-through), gets its points."""
    _, out, cache, p, args = _forward(birnn_forward_student, test, **sizes)
    _, cache_ref = birnn_forward(p["x"], p["pf"], p["pb"], cell="elman", lengths=p["lengths"])
    call = _call(birnn_backward_student, p["dout"], cache, names=["dout", "cache"],
                 outputs=("dx", "grads_fwd", "grads_bwd"))
    grads = unpack("birnn_backward(...)", call.value, 3)
    return call, grads, birnn_backward(p["dout"], cache_ref), p, args


def _derivative(birnn_forward_student, args, dout, index, key=None):
    """Given: the gradient of sum(dout * out) through the student's own forward (finite differences)."""
    return Given.gradient("birnn_forward", birnn_forward_student, list(args), index, key=key,
                          weight=dout, item=0)


def backward_values(birnn_forward_student, birnn_backward_student, test="backward_values", **sizes):
    """dx and both directions' parameter gradients against rnn_ref.birnn, through the student's cache."""
    _, (dx, grads_fwd, grads_bwd), (dx_ref, ref_fwd, ref_bwd), p, args = _backward(
        birnn_forward_student, birnn_backward_student, test, **sizes)
    variants = backward_variants(*args, p["dout"])
    assert_close("dx", dx, dx_ref, axes=("batch row", "time step t", "input feature"), variants=variants["dx"],
                 given=_derivative(birnn_forward_student, args, p["dout"], 0))
    for direction, got, ref in (("fwd", grads_fwd, ref_fwd), ("bwd", grads_bwd, ref_bwd)):
        label = f"grads_{direction}"
        if not isinstance(got, dict) or set(got) != set(PARAM_NAMES):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            raise CheckFailed(f"`{label}` should be a dict with keys {list(PARAM_NAMES)} (the params' "
                              f"names), got {keys}.")
        for name in PARAM_NAMES:
            assert_close(f'{label}["{name}"]', got[name], ref[name], variants=variants[f"{direction}:{name}"],
                         given=_derivative(birnn_forward_student, args, p["dout"],
                                           1 if direction == "fwd" else 2, key=name))


def backward_inputs_unchanged(birnn_forward_student, birnn_backward_student):
    """birnn_backward leaves dout as it was (and the cache); its results share no memory with them."""
    call, *_ = _backward(birnn_forward_student, birnn_backward_student, "backward_inputs_unchanged")
    assert_unchanged(call, "birnn_backward")
    assert_not_aliased(call, "birnn_backward")


def backward_edge_sizes(birnn_forward_student, birnn_backward_student):
    """Edge cases T = 1, then H = 1, then no padding."""
    backward_values(birnn_forward_student, birnn_backward_student, test="backward_single_step", T=1)
    backward_values(birnn_forward_student, birnn_backward_student, test="backward_single_unit", H=1)
    backward_values(birnn_forward_student, birnn_backward_student, test="backward_without_padding", full=True)
