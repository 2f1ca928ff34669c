"""Judging a backward pass: gradient by gradient, gate block by gate block, path by path, step by step.

Shared by the hidden checks (``autograder.checks.bptt``, ``lstm``, ``gru``) and the visible tests
(replayed from stored data: :data:`JUDGES` are the functions a stored step may call). This module
computes no answer: the expected gradients, the gradients of the catalogued mistakes and of the
path probes come in (the hidden checks compute them with rnn_ref; the visible tests read them
from the package's data). What it computes itself is only about the student's own code:

- :func:`judge_step_backward` / :func:`judge_backward` call the student's forward and backward,
  compare every gradient, and when one is wrong say which gradients are wrong and which are
  right, which gate's column block of ``dWx``, ``dWh``, ``db`` is wrong (LSTM i, f, g, o; GRU
  r, z, n), whether the mistake is on the path through ``h`` or through ``c`` (the LSTM step
  backward probed with only ``dh``, then only ``dc`` flowing in), and for a sequence whether
  the error of ``dx`` appears at the last step only or grows toward the first step;
- **follow-through** of sequence work: a sequence forward (or BPTT) that equals the student's own
  step forward (step backward) run over the sequence passes with a note "Right given your
  `<step function>`:". Running them over the sequence is done here with the student's functions
  only, and only for judging: a student function that calls into this module is a forbidden
  shortcut (it would get the loop it is asked to write);
- **follow-through** of a backward: when the student's forward is wrong, the backward is checked against
  centred finite differences (float64) of that same forward, along random directions, one gate
  block at a time. A backward that is the exact derivative of the student's own forward passes
  with a note that starts "Right given your `<forward>`:"; one that is not fails, saying which
  blocks disagree.

Shapes (one step): x (N, D), h_prev and c_prev (N, H); weights Wx (D, G*H), Wh (H, G*H), biases
(G*H,) with G gates side by side (Elman G = 1, LSTM 4, GRU 3). A sequence: x (N, T, D),
h0 and c0 (N, H), dhs (N, T, H). Gradients have the shapes of what they differentiate.

numpy functions are captured when this module is imported (as in :mod:`rnn_course.judge`), so a
student who rebinds ``np.sum`` or ``np.allclose`` in the notebook does not fool a judge.
"""

import sys

import numpy as np

from . import judge
from .judge import CheckFailed, ForbiddenShortcut, assert_shape, call_student, unpack
from .judge import (_abs, _all, _argmax, _array, _asarray, _default_rng, _float64,  # captured there
                    _isfinite, _unravel_index)

_zeros_like = np.zeros_like
_sum = np.sum
_ndim = np.ndim
_inf = np.inf
_stack = np.stack
_getprofile = sys.getprofile

JUDGES = ("judge_step_backward", "judge_backward", "judge_forward")  # what a stored visible-test step may call
ATOL, RTOL = 1e-7, 1e-6
FD_EPS, FD_ATOL, FD_RTOL = 1e-5, 1e-6, 1e-5  # centred differences along one random direction


class Layer:
    """What the judges need to know about one kind of recurrent layer (names for messages)."""

    def __init__(self, name, gates, step_inputs, seq_inputs, step_states, da_rule):
        self.name = name
        self.gates = gates  # names of the column blocks of the weights, or None (one block)
        self.step_inputs = step_inputs  # argument names of the step forward (its grads: "d" + name)
        self.seq_inputs = seq_inputs  # argument names of the sequence forward
        self.step_states = step_states  # outputs of the step forward before the cache ("h", "c")
        self.da_rule = da_rule  # how dx and dh_prev come from the pre-activation gradient, in words
        self.step_forward = f"{name}_step_forward"
        self.step_backward = f"{name}_step_backward"
        self.forward = f"{name}_forward"
        self.backward = f"{name}_backward"


LAYERS = {
    "elman": Layer("elman", None, ("x", "h_prev", "Wx", "Wh", "b"), ("x", "h0", "Wx", "Wh", "b"), ("h",),
                   "dx = da @ Wx.T and dh_prev = da @ Wh.T"),
    "lstm": Layer("lstm", ("i", "f", "g", "o"), ("x", "h_prev", "c_prev", "Wx", "Wh", "b"),
                  ("x", "h0", "Wx", "Wh", "b", "c0"), ("h", "c"),
                  "dx = da @ Wx.T, dh_prev = da @ Wh.T, with da the gradient of all four "
                  "pre-activations [i | f | g | o]"),
    "gru": Layer("gru", ("r", "z", "n"), ("x", "h_prev", "Wx", "Wh", "bx", "bh"),
                 ("x", "h0", "Wx", "Wh", "bx", "bh"), ("h",),
                 "dx = dax @ Wx.T; dh_prev = dh * z + dah @ Wh.T, with dah's n block dan * r"),
}
PARAMETERS = ("Wx", "Wh", "b", "bx", "bh")
_AXES = {"x": ("batch row", "input feature"), "Wx": ("input unit", "column"), "Wh": ("hidden unit", "column"),
         "b": ("column",), "bx": ("column",), "bh": ("column",)}
_SHAPE_HINTS = {
    "b": "A bias gradient sums da over the batch rows (axis 0): one entry per column.",
    "Wx": "dWx = x.T @ da: one row per input unit, one column per pre-activation.",
    "Wh": "dWh = h_prev.T @ da: one row per hidden unit, one column per pre-activation.",
}
_SHAPE_HINTS["bx"] = _SHAPE_HINTS["bh"] = _SHAPE_HINTS["b"]


def _axes(input_name, ndim):
    if input_name == "x" and ndim == 3:
        return ("batch row", "time step t", "input feature")
    return _AXES.get(input_name, ("batch row", "unit"))


def _close(got, expected, atol=ATOL, rtol=RTOL):
    return judge._close(got, expected, atol, rtol) and bool(_all(_isfinite(got)))


def _blocks(input_name, size, gates):
    """[(gate name, column slice)] of a gradient's last axis, or [(None, everything)]."""
    if gates and input_name in PARAMETERS and size % len(gates) == 0:
        H = size // len(gates)
        return [(g, slice(k * H, (k + 1) * H)) for k, g in enumerate(gates)]
    return [(None, slice(None))]


# ---------------------------------------------------------------------------------------------
# Calling the student's code.

def _forward_outputs(fn, args, count, fn_name):
    """The student's forward on args: (outputs as float arrays (count of them), cache)."""
    call = call_student(fn, *args, fn_name=fn_name)
    value = unpack(f"{fn_name}(...)", call.value, count + 1)
    return [judge.as_array(f"{fn_name}(...)[{k}]", v) for k, v in enumerate(value[:count])], value[count]


def _backward_grads(fn, upstream, upstream_names, cache, grad_names, like, fn_name):
    """The student's backward on (*upstream, cache): (call, list of float arrays shaped as ``like``)."""
    call = call_student(fn, *upstream, cache, names=[*upstream_names, "cache"], fn_name=fn_name)
    value = unpack(f"{fn_name}(...)", call.value, len(grad_names))
    grads = []
    for name, got, ref in zip(grad_names, value, like):
        hint = "A gradient has the shape of what it differentiates. " + _SHAPE_HINTS.get(name[1:], "")
        grads.append(assert_shape(name, got, _asarray(ref).shape, axes=_axes(name[1:], _ndim(ref)),
                                  hint=hint.strip()))
    return call, grads


def _after_call(call, fn_name, unchanged):
    if unchanged:
        judge.assert_unchanged(call, fn_name)
    judge.assert_not_aliased(call, fn_name)


# ---------------------------------------------------------------------------------------------
# Describing what is wrong.

def _wrong_blocks(name, got, expected, gates):
    """(wrong gate names, right gate names, opposite-sign gate names) of one gradient."""
    wrong, right, flipped = [], [], []
    for gate, cols in _blocks(name[1:], got.shape[-1] if got.ndim else 0, gates):
        g, e = got[..., cols], expected[..., cols]
        if _close(g, e):
            right.append(gate)
        else:
            wrong.append(gate)
            if _close(g, -e) and not _close(e, 0 * e):
                flipped.append(gate)
    return wrong, right, flipped


def _describe(name, got, expected, gates):
    """'`dWx` (gate f's block; the blocks of i, g, o are right)' and the like."""
    wrong, right, flipped = _wrong_blocks(name, got, expected, gates)
    if wrong == [None]:
        return f"`{name}`" + (" (the opposite sign)" if flipped else "")
    if not right:
        return f"`{name}` (every gate's block" + (", with the opposite sign)" if flipped == wrong else ")")
    text = f"`{name}` (" + ("gate " if len(wrong) == 1 else "gates ") + ", ".join(wrong)
    text += "'s block" if len(wrong) == 1 else " blocks"
    if flipped:
        text += ", " + ("with the opposite sign" if flipped == wrong else f"gate {', '.join(flipped)} with the opposite sign")
    if right:
        text += f"; the block{'s' if len(right) > 1 else ''} of {', '.join(right)} {'are' if len(right) > 1 else 'is'} right"
    return text + ")"


def _largest(name, got, expected, input_name, gates):
    err = _abs(got - expected)
    err[~_isfinite(err)] = _inf
    where = _unravel_index(int(_argmax(err)), err.shape)
    label = judge._label(where, _axes(input_name, got.ndim), gates if input_name in PARAMETERS else None,
                         got.shape[-1] if got.ndim else 0)
    return (f"Largest error of `{name}`: {float(err[where]):.3g} at {label} "
            f"(got {float(got[where]):.6g}, expected {float(expected[where]):.6g}).")


def _naming(names, grads, expected, wrong, variants):
    """The sentence naming the catalogued mistakes that explain the wrong gradients ('' if none).

    variants: {description: {gradient name: array}}; a description fits when it covers at least
    one wrong gradient and every wrong gradient it covers matches it.
    """
    fits = []
    for description, arrays in (variants or {}).items():
        covered = [k for k in wrong if names[k] in arrays]
        if not covered:
            continue
        try:
            ok = all(_close(grads[k], _asarray(arrays[names[k]], dtype=_float64)) for k in covered)
        except (ValueError, TypeError):
            continue
        if ok:
            fits.append((description, [names[k] for k in covered]))
    if not fits:
        return ""
    whole = [d for d, cov in fits if len(cov) == len(wrong)]
    if len(whole) == 1:
        d, cov = next(f for f in fits if f[0] == whole[0])
        subject = f"Your `{cov[0]}` matches" if len(cov) == 1 else "Your gradients match"
        return f"{subject} {d}. "
    if len(whole) > 1:
        listed = "; ".join(f"({i + 1}) {d}" for i, d in enumerate(whole))
        return (f"Your gradients match {len(whole)} usual mistakes equally, which give the same numbers "
                f"for these inputs, so this test cannot tell which one you made: {listed}. ")
    return " ".join(f"Your `{cov[0]}` matches {d}." if len(cov) == 1 else
                    f"Your {', '.join(f'`{c}`' for c in cov)} match {d}." for d, cov in fits[:3]) + " "


def _time_profile(name, got, expected):
    """For a gradient with a time axis (N, T, ...): where along time the error sits, in words."""
    T = got.shape[1]
    if T < 2:
        return ""
    err = _abs(got - expected).swapaxes(0, 1).reshape(T, -1)
    bad = err > ATOL + RTOL * _abs(expected).swapaxes(0, 1).reshape(T, -1)
    size = err.max(axis=1)
    wrong = [t for t in range(T) if bad[t].any()]
    if not wrong:
        return ""
    last = T - 1
    if wrong == [last]:
        return (f"Step by step, `{name}` is wrong at the last step t={last} only; every earlier step is "
                f"right: look at what the first step of your backward loop does differently.")
    if last not in wrong:
        first_wrong = max(wrong)
        grows = size[0] >= size[first_wrong]
        return (f"Step by step, `{name}` is right at the last step t={last} and wrong from t={first_wrong} "
                f"back to t={min(wrong)}" + (", the error growing toward the first step" if grows else "")
                + ": each step's own gradient is right, what is carried back from step t+1 to step t "
                  "is not (or a loop that skips or shifts steps).")
    if len(wrong) == T:
        return (f"Step by step, `{name}` is wrong already at the last step t={last} and at every step "
                f"before it: the last step's own gradient is already wrong (nothing is carried back into "
                f"it yet), or the loop skips it.")
    return f"Step by step, `{name}` is wrong at the time steps {', '.join(f't={t}' for t in wrong)}."


def _path_sentence(layer, probes_wrong):
    """What the h-only / c-only probes say, for the LSTM step backward."""
    dh_bad, dc_bad = probes_wrong.get("dh"), probes_wrong.get("dc")
    if dh_bad is None or dc_bad is None:
        return ""
    if dh_bad and not dc_bad:
        return ("Path by path: with only dc flowing in (dh = 0) your gradients are right; with only dh "
                "flowing in (dc = 0) they are wrong. The mistake is on the path through h: the output "
                "gate's part (h = o * tanh(c)), or where dh enters the cell, dh * o * (1 - tanh(c)**2).")
    if dc_bad and not dh_bad:
        return ("Path by path: with only dh flowing in (dc = 0) your gradients are right; with only dc "
                "flowing in (dh = 0) they are wrong. The mistake is in how the upstream dc is used: c "
                "reaches the loss directly (dc) and through h, and the two parts add up.")
    if dh_bad and dc_bad:
        return ("Path by path: your gradients are wrong both with only dh and with only dc flowing in: "
                "the mistake is on the path through c, which both use (the gates i, f, g and c_prev "
                "get their gradient through c).")
    return ("Path by path: each path alone (only dh, only dc) gives the right gradients, but together "
            "they do not: the two parts of the cell's gradient must add up.")


def _diagnosis(layer, names, grads, expected, variants, sequence=False, extra=""):
    """The whole message for wrong gradients (the student's forward being right)."""
    gates = layer.gates
    wrong = [k for k in range(len(names)) if not _close(grads[k], expected[k])]
    msg = _naming(names, grads, expected, wrong, variants)
    msg += "Wrong: " + ", ".join(_describe(names[k], grads[k], expected[k], gates) for k in wrong) + "."
    right = [f"`{n}`" for k, n in enumerate(names) if k not in wrong]
    msg += (" Right: " + ", ".join(right) + ".") if right else ""
    first = wrong[0]
    bad = [k for k in wrong if not bool(_all(_isfinite(grads[k])))]
    if bad:
        msg += f" `{names[bad[0]]}` contains NaN or infinity."
    else:
        msg += " " + _largest(names[first], grads[first], expected[first], names[first][1:], gates)
    params = [k for k, n in enumerate(names) if n[1:] in PARAMETERS]
    states = [k for k in wrong if names[k][1:] not in PARAMETERS]
    if params and states and not any(k in wrong for k in params):
        msg += (f" Your {', '.join(f'`{names[k]}`' for k in params)} are right, so your gradient of the "
                f"pre-activations (da) is right: the mistake is in how "
                f"{' and '.join(f'`{names[k]}`' for k in states)} {'come' if len(states) > 1 else 'comes'} from it "
                f"({layer.da_rule}).")
    elif gates and any(k in wrong for k in params):
        bad_gates = sorted({g for k in params if k in wrong for g in _wrong_blocks(names[k], grads[k], expected[k], gates)[0]},
                           key=gates.index)
        if bad_gates and len(bad_gates) < len(gates):
            msg += (f" The weight gradients point at the pre-activation gradient of gate "
                    f"{', '.join(bad_gates)}: check the derivative through "
                    f"{'that gate' if len(bad_gates) == 1 else 'those gates'} (its activation's derivative, "
                    f"and what it multiplies).")
    if sequence and names[0] == "dx" and 0 in wrong:
        profile = _time_profile("dx", grads[0], expected[0])
        msg += (" " + profile) if profile else ""
    return msg + ((" " + extra) if extra else "")


# ---------------------------------------------------------------------------------------------
# Follow-through: the student's backward against centred differences of the student's forward.

def _finite_difference_report(fn, fn_name, args, names, upstream, count, grads, gates, skip=()):
    """{gradient name: [gate names (None for a whole array) where the gradient disagrees]}.

    The loss is L = sum_k sum(upstream[k] * output_k) over the first ``count`` outputs of
    fn(*args); along two random directions per gate block (float64), (L(a + eps v) - L(a - eps v))
    / (2 eps) must equal sum(grad * v). A block's second direction is tried only when the first
    agrees.

    The forward's calls are made in batches (judge.call_student_many: one request to the grading
    kernel): every remaining direction is drawn as if all agreed, and where one disagrees, the
    directions after it are drawn again, so the directions, the calls that count and the
    report are those of trying them one by one.
    """
    base = [None if a is None else _array(a, dtype=_float64) for a in args]
    draws = _default_rng(16)
    blocks = [(k, name, gate, cols) for k, name in enumerate(names) if base[k] is not None and name not in skip
              for gate, cols in _blocks(name, base[k].shape[-1] if base[k].ndim else 0, gates)]
    weights = [_asarray(u, dtype=_float64) for u in upstream]

    def direction(k, cols):
        v = _zeros_like(base[k])
        v[..., cols] = draws.standard_normal(v[..., cols].shape)
        return v

    def trial(k, shift):
        shifted = list(base)
        shifted[k] = base[k] + shift
        return tuple(shifted)

    def loss(call):
        if isinstance(call, BaseException):
            raise call
        value = unpack(f"{fn_name}(...)", call.value, count + 1)
        outs = [judge.as_array(f"{fn_name}(...)[{j}]", v) for j, v in enumerate(value[:count])]
        return float(sum(_sum(u * o) for u, o in zip(weights, outs)))

    report = {}
    position = (0, 0)  # (block, direction) to try next
    while position[0] < len(blocks):
        state = draws.bit_generator.state
        planned = []  # (block, direction, v): the rest, as if every direction agreed
        for b in range(position[0], len(blocks)):
            for d in range(position[1] if b == position[0] else 0, 2):
                planned.append((b, d, direction(blocks[b][0], blocks[b][3])))
        calls = judge.call_student_many(fn, [trial(blocks[b][0], sign * FD_EPS * v) for b, _, v in planned
                                             for sign in (1, -1)], fn_name=fn_name)
        position = (len(blocks), 0)
        for j, (b, d, v) in enumerate(planned):
            k, name, gate, _ = blocks[b]
            numeric = (loss(calls[2 * j]) - loss(calls[2 * j + 1])) / (2 * FD_EPS)
            analytic = float(_sum(grads[k] * v))
            if not abs(numeric - analytic) <= FD_ATOL + FD_RTOL * max(abs(numeric), abs(analytic)):
                report.setdefault(f"d{name}", []).append(gate)
                if d == 0:  # the block's second direction is not tried, nor drawn: the rest is drawn again
                    draws.bit_generator.state = state
                    for drawn, _, _ in planned[:j + 1]:
                        direction(blocks[drawn][0], blocks[drawn][3])
                    position = (b + 1, 0)
                    break
    return report


def _report_text(report):
    parts = []
    for name, gates in report.items():
        if gates == [None]:
            parts.append(f"`{name}`")
        else:
            parts.append(f"`{name}` (gate{'s' if len(gates) > 1 else ''} {', '.join(gates)})")
    return ", ".join(parts)


def _follow_through(layer, forward_name, backward_name, fn, args, names, upstream, count, grads, skip=()):
    """Pass with a note when ``grads`` are the derivative of the student's own (wrong) forward."""
    report = _finite_difference_report(fn, forward_name, args, names, upstream, count, grads, layer.gates, skip)
    if not report:
        print(f"Right given your `{forward_name}`: your `{backward_name}` is the exact derivative of your "
              f"own `{forward_name}` (checked by centred finite differences of it), so this test gives "
              f"its points. Your `{forward_name}` itself is wrong: its own test says how.")
        return
    right = [f"`d{n}`" for n in names if f"d{n}" not in report and n not in skip]
    raise CheckFailed(
        f"Your `{forward_name}` is wrong (its own test says how), so your `{backward_name}` is checked "
        f"against centred finite differences of your own `{forward_name}`: it is not their derivative. "
        f"Disagreeing: {_report_text(report)}." + (f" Agreeing: {', '.join(right)}." if right else "")
        + f" Fix `{forward_name}` first, then make `{backward_name}` its derivative.")


# ---------------------------------------------------------------------------------------------
# Follow-through of sequence work: the student's own step functions run over the sequence.

def _guard():
    """A student's function that calls into this module (to get a loop it must write) is a shortcut:
    student code runs under call_student's profiler, judges never do."""
    if _getprofile() is not None:
        raise ForbiddenShortcut("Your code calls rnn_course.gradients, the grader's judging code. This "
                                "exercise asks for your own implementation, so its tests score 0.")


def _run_steps(L, step_forward, inputs):
    """(hs (N, T, H), per-step caches) of the student's step forward over the sequence ``inputs``
    (the sequence forward's arguments), or None when the step forward fails."""
    _guard()
    seq = dict(zip(L.seq_inputs, inputs))
    x = _asarray(seq["x"], dtype=_float64)
    states = {s: _zeros_like(_asarray(seq["h0"], dtype=_float64)) if seq.get(f"{s}0") is None else seq[f"{s}0"]
              for s in L.step_states}
    hs, caches = [], []
    try:
        for t in range(x.shape[1]):
            args = tuple(x[:, t] if n == "x" else states[n[0]] if n.endswith("_prev") else seq[n] for n in L.step_inputs)
            outs, cache = _forward_outputs(step_forward, args, len(L.step_states), L.step_forward)
            states = dict(zip(L.step_states, outs))
            hs.append(outs[0])
            caches.append(cache)
        return _stack(hs, axis=1), caches
    except (CheckFailed, ValueError, TypeError, IndexError, KeyError):
        return None


def _run_steps_backward(L, step_backward, caches, dhs):
    """The sequence gradients (in the order of L.seq_inputs) of the student's step backward run
    back over ``caches``, or None when it fails."""
    _guard()
    dhs = _asarray(dhs, dtype=_float64)
    n_states = len(L.step_states)
    carry = [_zeros_like(dhs[:, 0]) for _ in L.step_states]
    dxs, weights = [None] * len(caches), None
    try:
        for t in reversed(range(len(caches))):
            upstream = [dhs[:, t] + carry[0], *carry[1:]]
            call = call_student(step_backward, *upstream, caches[t], fn_name=L.step_backward,
                                names=[*(f"d{s}" for s in L.step_states), "cache"])
            g = [judge.as_array(L.step_backward, v) for v in unpack(f"{L.step_backward}(...)", call.value,
                                                                     len(L.step_inputs))]
            dxs[t], carry = g[0], g[1:1 + n_states]
            weights = g[1 + n_states:] if weights is None else [w + v for w, v in zip(weights, g[1 + n_states:])]
        found = {"dx": _stack(dxs, axis=1), "dh0": carry[0], "dc0": carry[-1]}
        found.update(zip((f"d{n}" for n in L.step_inputs[1 + n_states:]), weights))
        return [found[f"d{n}"] for n in L.seq_inputs]
    except (CheckFailed, ValueError, TypeError, IndexError, KeyError):
        return None


def _same(got, expected):
    return expected is not None and len(got) == len(expected) and all(
        g.shape == _asarray(e).shape and _close(g, _asarray(e, dtype=_float64)) for g, e in zip(got, expected))


# ---------------------------------------------------------------------------------------------
# The judges (the hidden checks call them; the visible tests replay them from stored data).

def judge_step_backward(layer, forward, backward, inputs, upstream, expected_outputs, expected_grads,
                        cache=None, variants=None, probes=None, unchanged=True):
    """Judge a student's step backward, through the student's own step forward.

    layer: "elman", "lstm" or "gru" (see :data:`LAYERS`).
    forward: the student's step forward, or None when the forward is given (then ``cache`` is
      the given forward's cache and ``expected_outputs`` is None).
    backward: the student's step backward, called as backward(*upstream, cache).
    inputs: the step forward's arguments, e.g. (x, h_prev, c_prev, Wx, Wh, b) for the LSTM.
    upstream: (dh,) or (dh, dc) (N, H) each; expected_outputs: the right (h,) or (h, c).
    expected_grads: the right gradients, in the order of ``inputs`` (dx, dh_prev, ...).
    variants: {description: {gradient name: array}}, the gradients of usual mistakes.
    probes: {"dh": gradients with only dh flowing in, "dc": with only dc} (the LSTM's two paths).
    unchanged: also fail when the backward writes into its inputs (where no other test checks it).
    """
    L = LAYERS[layer]
    names = [f"d{n}" for n in L.step_inputs]
    count = len(L.step_states)
    forward_right = True
    if forward is not None:
        outs, cache = _forward_outputs(forward, inputs, count, L.step_forward)
        forward_right = all(_close(o, _asarray(e, dtype=_float64)) for o, e in zip(outs, expected_outputs))
    upstream_names = [f"d{s}" for s in L.step_states]
    call, grads = _backward_grads(backward, upstream, upstream_names, cache, names, expected_grads, L.step_backward)
    _after_call(call, L.step_backward, unchanged)
    if not forward_right:
        _follow_through(L, L.step_forward, L.step_backward, forward, inputs, L.step_inputs, upstream, count, grads)
        return
    expected = [_asarray(e, dtype=_float64) for e in expected_grads]
    if all(_close(g, e) for g, e in zip(grads, expected)):
        return
    paths = ""
    if probes and len(upstream) == 2:
        probes_wrong = {}
        for k, key in enumerate(("dh", "dc")):
            alone = [u if j == k else _zeros_like(_asarray(u, dtype=_float64)) for j, u in enumerate(upstream)]
            _, got = _backward_grads(backward, alone, upstream_names, cache, names, expected_grads, L.step_backward)
            probes_wrong[key] = not all(_close(g, _asarray(e, dtype=_float64)) for g, e in zip(got, probes[key]))
        paths = _path_sentence(L, probes_wrong)
    raise CheckFailed(_diagnosis(L, names, grads, expected, variants, extra=paths))


def judge_backward(layer, forward, backward, inputs, dhs, expected_hs, expected_grads, cache=None,
                   variants=None, step_forward=None, step_backward=None, step_caches=None):
    """Judge a student's sequence backward (BPTT), through the student's own sequence forward.

    forward: the student's sequence forward, or None when it is given (then ``cache`` is the
      given forward's cache and ``expected_hs`` is None).
    backward: called as backward(dhs, cache). inputs: the forward's arguments (x, h0, ...; an
      LSTM's c0 may be None). dhs (N, T, H); expected_hs (N, T, H); expected_grads in the order
      of ``inputs``; variants {description: {gradient name: array}} (the usual BPTT mistakes).
    step_forward, step_backward: the student's step functions; a BPTT that is wrong but equals the
      student's step backward run back over the student's step forward's caches (or over
      ``step_caches``, those of a given forward) passes, with a note (follow-through).
    """
    L = LAYERS[layer]
    names = [f"d{n}" for n in L.seq_inputs]
    forward_right = True
    if forward is not None:
        (hs,), cache = _forward_outputs(forward, inputs, 1, L.forward)
        forward_right = _close(hs, _asarray(expected_hs, dtype=_float64))
    def right_given_steps():
        """Whether the student's BPTT is their step backward run back over their steps' caches."""
        if step_backward is None or (step_caches is None and step_forward is None):
            return False
        got = unpack(f"{L.backward}(...)", call_student(backward, dhs, cache, names=["dhs", "cache"],
                                                        fn_name=L.backward).value, len(names))
        caches = step_caches
        if caches is None:
            ran = _run_steps(L, step_forward, inputs)
            caches = ran[1] if ran is not None else None
        return caches is not None and _same([judge.as_array(n, g) for n, g in zip(names, got)],
                                            _run_steps_backward(L, step_backward, caches, dhs))

    try:
        call, grads = _backward_grads(backward, (dhs,), ("dhs",), cache, names, expected_grads, L.backward)
        _after_call(call, L.backward, False)  # the inputs: a test of their own
        expected = [_asarray(e, dtype=_float64) for e in expected_grads]
        if forward_right and all(_close(g, e) for g, e in zip(grads, expected)):
            return
        if not forward_right:
            skip = tuple(n for n, a in zip(L.seq_inputs, inputs) if a is None)
            _follow_through(L, L.forward, L.backward, forward, inputs, L.seq_inputs, (dhs,), 1, grads, skip)
            return
        raise CheckFailed(_diagnosis(L, names, grads, expected, variants, sequence=True))
    except ForbiddenShortcut:
        raise
    except CheckFailed:
        if not right_given_steps():
            raise
    print(f"Right given your `{L.step_backward}`: your `{L.backward}` is BPTT done right with your own "
          f"step functions, so this test gives its points. Your `{L.step_backward}` (or "
          f"`{L.step_forward}`) itself is wrong: its own test says how.")


def judge_forward(layer, step_forward, forward, inputs, expected_hs, variants=None):
    """Judge a student's sequence forward: hs against ``expected_hs`` (N, T, H) (through
    judge.assert_close, naming the usual mistakes of ``variants`` {description: hs}); a wrong hs
    that equals the student's own ``step_forward`` run over the sequence passes, with a note.
    inputs: the forward's arguments (x, h0, ...; an LSTM's c0 may be None)."""
    L = LAYERS[layer]
    call = call_student(forward, *inputs, fn_name=L.forward, outputs=("hs", "cache"))
    hs, _ = unpack(f"{L.forward}(...)", call.value, 2)
    try:
        judge.assert_close("hs", hs, expected_hs, axes=("batch row", "time step t", "unit"), variants=variants)
    except CheckFailed:
        ran = _run_steps(L, step_forward, inputs) if step_forward is not None else None
        if ran is None or not _same([judge.as_array("hs", hs)], [ran[0]]):
            raise
        print(f"Right given your `{L.step_forward}`: your `{L.forward}` runs your own step forward over "
              f"the sequence correctly, so this test gives its points. Your `{L.step_forward}` itself is "
              f"wrong: its own test says how.")
