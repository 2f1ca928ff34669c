"""Judging an answer: seeded inputs, guarded calls, comparisons that teach.

Shared by the visible tests students run (:mod:`rnn_course.checks`, from stored reference data)
and the hidden tests of the instructor's grader (``autograder.checks.<topic>``, with rnn_ref
live). A check draws random inputs (:func:`rng`), calls the student's code through
:func:`call_student` and compares the answer with the expected one through :func:`assert_close`.
This module computes no answer: expected values and the answers of usual mistakes come in. A failed
check raises :class:`CheckFailed` (an AssertionError) whose message says what is wrong, where,
and which usual mistake the answer matches.

Robustness rules, kept here so that every assignment gets them:

- numpy functions used for judging are captured when this module is imported (the notebook's
  first cell), so a student who later rebinds ``np.allclose`` or ``np.max`` does not fool a check;
- nothing is written to stderr for a correct answer (nbgrader scores a test cell 0 when it writes
  to stderr): warnings raised inside the student's code are recorded and reported on stdout;
- an answer that calls rnn_ref, or a torch RNN module, where the exercise asks for the student's
  own implementation fails with :class:`ForbiddenShortcut`.
"""

import contextlib
import copy
import inspect
import io
import os
import re
import sys
import textwrap
import tokenize
import warnings
import zlib

import numpy as np

# References captured at import time (see the module docstring).
_asarray = np.asarray
_array = np.array
_abs = np.abs
_argmax = np.argmax
_unravel_index = np.unravel_index
_isfinite = np.isfinite
_all = np.all
_any = np.any
_ndarray = np.ndarray
_array_equal = np.array_equal
_default_rng = np.random.default_rng
_float64 = np.float64
_may_share_memory = np.may_share_memory
_shares_memory = np.shares_memory
_CodeType = type((lambda: 0).__code__)

SEED_VARIABLE = "AUTOGRADER_SEED"


# numpy's ValueErrors about shapes (matmul, dot, broadcasting, reshape), not e.g. "the truth value
# of an array ... is ambiguous", which has nothing to do with shapes
_SHAPE_ERROR = re.compile(r"shape|broadcast|dimension|aligned|reshape|size \d+ is different", re.I)

class CheckFailed(AssertionError):
    """A check found a wrong answer; the message is written for the student."""


class ForbiddenShortcut(CheckFailed):
    """The answer called the reference implementation or a library RNN instead of its own code."""


# ---------------------------------------------------------------------------------------------
# Seeding: one seed per grading run, one independent stream per test.

_seed = None


def run_seed():
    """The seed of this run: $AUTOGRADER_SEED if set (the grader sets it), else drawn once."""
    global _seed
    if _seed is None:
        value = os.environ.get(SEED_VARIABLE, "")
        _seed = int(value) if value.strip() else int.from_bytes(os.urandom(4), "little")
    return _seed


def rng(test_name):
    """A numpy Generator for one test, seeded by (run seed, test name): order-independent.

    A test starts by drawing its inputs: this also starts a new test for :func:`assert_close`'s
    follow-through note (said once per test and earlier function).
    """
    _credited.clear()
    return _default_rng([run_seed(), zlib.crc32(test_name.encode())])


_credited = set()  # earlier functions already credited with a note in this test


def announce_seed():
    """The notebooks' setup cell: print the run's seed (to replay a run) and, in IPython, show a
    failed check as its message alone (see :func:`_message_only`)."""
    print(f"Random inputs of this run use seed {run_seed()} "
          f"(set {SEED_VARIABLE}={run_seed()} to replay them).")
    try:
        shell = get_ipython()  # noqa: F821 (defined inside IPython only)
    except NameError:
        return
    shell.set_custom_exc((CheckFailed,), _message_only)


def _message_only(shell, etype, value, tb, tb_offset=None):
    """IPython handler for CheckFailed: the message, wrapped, without the checks' own frames.

    The cell still ends in an error (nbgrader scores it 0); the student reads what is wrong
    rather than a traceback through this package. Other exceptions keep their tracebacks.
    """
    stb = [format_failure(etype.__name__, str(value))]
    shell._showtraceback(etype, value, stb)  # IPython leaves the display to the handler
    return stb


def format_failure(name, message, width=100):
    """'Name:' then the message wrapped to ``width`` columns (notebook and feedback display)."""
    lines = [f"{name}:"]
    for paragraph in message.split("\n"):
        lines += textwrap.wrap(paragraph, width=width) or [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Calling the student's code.

_RNN_NAMES = {"rnn_tanh", "rnn_relu", "lstm", "gru", "rnn_tanh_cell", "rnn_relu_cell",
              "lstm_cell", "gru_cell"}
_TORCH_RNN_FILE = os.path.join("torch", "nn", "modules", "rnn.py")


_rnn_ref_found = {}  # "dir": what _rnn_ref_dir found, looked up once


def _rnn_ref_dir():
    """rnn_ref's folder, or None where it is not installed (a student's machine, the grader's
    sandbox). Looked up once: an import that fails searches every folder of sys.path, and the
    grading kernel empties the import system's caches before each call."""
    if "dir" not in _rnn_ref_found:
        try:
            import rnn_ref

            _rnn_ref_found["dir"] = os.path.dirname(os.path.abspath(rnn_ref.__file__)) + os.sep
        except (ImportError, TypeError):  # TypeError: an empty folder rnn_ref (a namespace package)
            _rnn_ref_found["dir"] = None
    return _rnn_ref_found["dir"]


_GIVEN_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "given.py")


def _inside_given(frame, depth=60):
    """Whether ``frame`` runs on behalf of rnn_course.given (its torch RNN is allowed there)."""
    while frame is not None and depth:
        if frame.f_code.co_filename == _GIVEN_FILE:
            return True
        frame, depth = frame.f_back, depth - 1
    return False


def _shortcut_in_call(event, frame, arg, rnn_ref_dir, forbidden):
    """Name of the forbidden thing entered by this profiler event, or None.

    forbidden: prefixes of qualified names ("rnn_ref" forbids all of it; "rnn_course.given" the
    given code of the notebooks); torch's RNN modules and kernels are forbidden unless the given
    code runs them.
    """
    if event == "call":
        filename = frame.f_code.co_filename
        if filename == _GIVEN_FILE:
            name = f"rnn_course.given.{frame.f_code.co_name}"
            return name if name.startswith(forbidden) and frame.f_code.co_name[:1] != "_" else None
        if rnn_ref_dir and filename.startswith(rnn_ref_dir):
            name = f"{frame.f_globals.get('__name__', 'rnn_ref')}.{frame.f_code.co_name}"
            return name if name.startswith(forbidden) else None
        if filename.endswith(_TORCH_RNN_FILE) and not _inside_given(frame):
            return f"torch.nn ({getattr(frame.f_code, 'co_qualname', frame.f_code.co_name)})"
    elif event == "c_call" and getattr(arg, "__name__", None) in _RNN_NAMES:
        owner = getattr(arg, "__self__", None)
        if ("torch" in repr(owner) or "torch" in str(getattr(arg, "__module__", ""))) and not _inside_given(frame):
            return f"torch's built-in {arg.__name__}"
    return None


_TORCH_RNN_CLASSES = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"}


_source_verdicts = {}  # code object -> what _shortcut_in_source found in its function's source


def _shortcut_in_source(fn):
    """'rnn_ref' or 'nn.LSTM' (etc.) as code in the function's source, or None.

    Names only: comments, strings and longer names that contain the word do not count. The
    verdict is kept per code object (equal code objects use the same names): reading and
    tokenizing the source took most of a checked call's own time.
    """
    code = getattr(fn, "__code__", None)
    if type(code) is _CodeType:
        if code not in _source_verdicts:
            if len(_source_verdicts) > 1000:
                _source_verdicts.clear()
            _source_verdicts[code] = _read_source_for_shortcut(fn)
        return _source_verdicts[code]
    return _read_source_for_shortcut(fn)


def _read_source_for_shortcut(fn):
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        names = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                 if t.type in (tokenize.NAME, tokenize.OP)]
    except (OSError, TypeError, tokenize.TokenError, IndentationError, SyntaxError):
        return None
    for i, name in enumerate(names):
        if name == "rnn_ref":
            return "rnn_ref"
        if name in _TORCH_RNN_CLASSES and names[max(i - 2, 0):i] == ["nn", "."]:
            return f"nn.{name}"
    return None


# Set by the grader (autograder.channel) while a test runs in its own process: a function
# (fn, args, options) -> Call that observes the call where the student's function lives, or None;
# and its batch form (fn, [args, ...], options) -> [Call or exception, ...], or None.
_call_elsewhere = None
_call_many_elsewhere = None


def _copy_args(args):
    return [copy.deepcopy(a) for a in args]


class Call:
    """The outcome of :func:`call_student`.

    value: what the function returned; warned: the warnings it raised; mutated: list of
    (argument name, description) of the inputs it changed; aliased: list of (output label, input
    name) pairs where a part of the returned value is an input object itself or an array sharing
    memory with one (labels as ``"hs"``, ``"cache[0]"``, ``"grads['Wx']"``; see :func:`_parts`).
    """

    def __init__(self, value, warned, mutated, aliased=()):
        self.value = value
        self.warned = warned
        self.mutated = mutated
        self.aliased = list(aliased)


def _parts(value, label, depth=0):
    """(label, object) for ``value`` and the containers and arrays inside it (tuples, lists, dicts),
    labelled like Python code: ``label[0]``, ``label['Wx']``."""
    yield label, value
    if depth >= 3:
        return
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _parts(v, f"{label}[{i}]", depth + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _parts(v, f"{label}[{k!r}]", depth + 1)


def _watched(obj):
    """Whether aliasing of ``obj`` matters: arrays, lists and dicts (what can be written into;
    numbers, strings, tuples, functions and None cannot)."""
    return isinstance(obj, (_ndarray, list, dict))


def _overlap(a, b):
    """Whether output ``a`` is input ``b`` itself, or both are arrays sharing memory."""
    if a is b:
        return True
    if isinstance(a, _ndarray) and isinstance(b, _ndarray) and a.size and b.size:
        if not _may_share_memory(a, b):
            return False
        try:
            return bool(_shares_memory(a, b, max_work=10**6))
        except Exception:  # too hard to decide exactly: the bounds overlap, count it
            return True
    return False


def find_aliasing(value, inputs, names, outputs=None):
    """(output label, input name) pairs where a part of ``value`` is, or shares memory with, a part
    of one of ``inputs`` (named ``names``).

    outputs: labels of the items of a returned tuple (e.g. ("h", "cache")); default "the result"
    for a single value and "the result[i]" for the items of a tuple.
    """
    if isinstance(value, tuple) and outputs and len(outputs) == len(value):
        tops = list(zip(outputs, value))
    elif isinstance(value, tuple):
        tops = [(f"the result[{i}]", v) for i, v in enumerate(value)]
    else:
        tops = [(outputs[0] if outputs else "the result", value)]
    ins = [(label, obj) for name, arg in zip(names, inputs) for label, obj in _parts(arg, name)
           if _watched(obj)]
    found = []
    for top, v in tops:
        for out_label, out in _parts(v, top):
            if not _watched(out):
                continue
            hit = next((in_label for in_label, obj in ins if _overlap(out, obj)), None)
            if hit is not None and not any(out_label.startswith(f[0]) for f in found):
                found.append((out_label, hit))
    return found


def call_student(fn, *args, names=None, own_implementation=True, fn_name=None, shape_hint="",
                 outputs=None, asks_for="your own implementation, so its tests score 0. Write it with numpy only"):
    """Call the student's ``fn(*args)`` the way every check does.

    - The student gets deep copies of ``args``; the originals stay usable for expected values.
    - ``own_implementation``: the exercise asks for the student's own code, so entering rnn_ref
      or a torch RNN module (or naming one in the function's source) raises ForbiddenShortcut.
      A tuple of qualified names (e.g. ``("rnn_ref.bptt.truncated_bptt",)``) forbids only those
      parts of rnn_ref (and torch's RNNs): the rest may be used, as given code of the notebook.
      ``asks_for`` ends the message ("This exercise asks for ...").
    - Warnings and stderr writes inside the call are captured and echoed on stdout, so a
      harmless warning never zeroes a correct answer.
    - NotImplementedError (the unanswered stub) becomes a CheckFailed that says so.
    - A ValueError inside the call becomes a CheckFailed; when numpy's message is about shapes
      (a matrix product or a broadcast that does not fit) it adds ``shape_hint``.
    - The returned value is searched for inputs and arrays that share memory with an input
      (``Call.aliased``, judged by :func:`assert_not_aliased`).
    names: the argument names for messages (default: from the function's signature).
    outputs: names of the items of a returned tuple, for messages (e.g. ("h", "cache")).
    Returns a :class:`Call`.
    """
    if _call_elsewhere is not None:  # the grader: the student's function lives in another process
        call = _call_elsewhere(fn, args, dict(names=names, own_implementation=own_implementation, fn_name=fn_name,
                                              shape_hint=shape_hint, asks_for=asks_for,
                                              outputs=list(outputs) if outputs else None))
        if call is not None:
            return call
    fn_name = fn_name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise CheckFailed(f"`{fn_name}` is not a function (it is a {type(fn).__name__}).")
    if names is None:
        try:
            names = list(inspect.signature(fn).parameters)[: len(args)]
        except (TypeError, ValueError):
            names = []
        names = names + [f"argument {i + 1}" for i in range(len(names), len(args))]
    forbidden = own_implementation if isinstance(own_implementation, tuple) else ("rnn_ref", "rnn_course.given")
    if own_implementation is True:
        word = _shortcut_in_source(fn)
        if word is not None:
            raise ForbiddenShortcut(
                f"`{fn_name}` uses {word}. This exercise asks for {asks_for}.")
    given = _copy_args(args)
    kept = _copy_args(args)
    found = []
    rnn_ref_dir = _rnn_ref_dir()

    def profiler(frame, event, arg):
        if not found:
            hit = _shortcut_in_call(event, frame, arg, rnn_ref_dir, forbidden)
            if hit:
                found.append(hit)

    with warnings.catch_warnings(record=True) as warned, contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("always")
        if own_implementation:
            sys.setprofile(profiler)
        try:
            value = fn(*given)
        except NotImplementedError:
            raise CheckFailed(f"`{fn_name}` is not implemented yet (it raised "
                              f"NotImplementedError): replace the stub with your code.") from None
        except ImportError as exc:  # the grader's sandbox has no rnn_ref (nor has a student's machine)
            if own_implementation and str(getattr(exc, "name", None) or "").split(".")[0] == "rnn_ref":
                raise ForbiddenShortcut(f"`{fn_name}` imports rnn_ref. This exercise asks for {asks_for}.") from None
            raise
        except ValueError as exc:
            hint = shape_hint if _SHAPE_ERROR.search(str(exc)) else ""
            raise CheckFailed(f"`{fn_name}` raised ValueError: {exc}. {hint}".rstrip()) from exc
        except ZeroDivisionError as exc:
            raise CheckFailed(
                f"`{fn_name}` divided by zero ({exc}). This test has an input where a denominator "
                f"is 0 (e.g. gradients that are all zero, a norm of 0): guard the division, e.g. "
                f"add a small epsilon or handle that case first.") from exc
        finally:
            if own_implementation:
                sys.setprofile(None)
    if found:
        raise ForbiddenShortcut(
            f"`{fn_name}` calls {found[0]}. This exercise asks for {asks_for}.")
    for w in warned:
        print(f"Note: `{fn_name}` raised a warning (a warning alone costs no points): "
              f"{w.category.__name__}: {w.message}")
    mutated = [(name, _describe_change(old, new))
               for name, old, new in zip(names, kept, given) if not _same(old, new)]
    return Call(value, warned, mutated, find_aliasing(value, given, names, outputs))


def call_student_many(fn, calls, **options):
    """``call_student(fn, *args, **options)`` for each ``args`` of ``calls``: a list with, for each,
    its :class:`Call` or the exception that call raised (CheckFailed, or the student's own).

    For calls that do not depend on one another (finite differences of the student's forward):
    in the grader they go to the kernel as one request, which still restores its state before
    each call and observes each as :func:`call_student` does. Every call is made, also after one
    that raised: the caller raises the first exception where the calls one by one would have.
    """
    calls = [tuple(args) for args in calls]
    if _call_many_elsewhere is not None:
        found = _call_many_elsewhere(fn, calls, {**options, "outputs": list(options["outputs"])
                                                 if options.get("outputs") else None})
        if found is not None:
            return found
    results = []
    for args in calls:
        try:
            results.append(call_student(fn, *args, **options))
        except Exception as exc:  # noqa: BLE001 (the caller raises it in its turn)
            results.append(exc)
    return results


def _same(a, b):
    if isinstance(a, _ndarray):
        return isinstance(b, _ndarray) and a.shape == b.shape and _array_equal(a, b, equal_nan=True)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return True  # functions, numbers, None: not checked


def _describe_change(old, new):
    if isinstance(old, _ndarray) and isinstance(new, _ndarray) and old.shape == new.shape:
        diff = _abs(new.astype(_float64) - old.astype(_float64))
        where = _unravel_index(int(_argmax(diff)), diff.shape)
        before, after = f"{old[where]:.6g}", f"{new[where]:.6g}"
        if before == after:  # a change below six digits: show every digit
            before, after = repr(float(old[where])), repr(float(new[where]))
        return f"entry {tuple(int(i) for i in where)} changed from {before} to {after}"
    return "its contents changed"


def assert_unchanged(call, fn_name):
    """Fail if the student's function wrote into any of its inputs (seen by :func:`call_student`)."""
    if call.mutated:
        name, what = call.mutated[0]
        raise CheckFailed(
            f"`{fn_name}` modified its input `{name}` in place ({what}). A forward or backward "
            f"function must leave its inputs untouched: build new arrays (e.g. `a = a + b`, "
            f"not `a += b`, on an input).")


def assert_not_aliased(call, fn_name, outputs=None):
    """Fail if the student's result is (or shares memory with) one of the inputs it was given.

    outputs: labels (or label prefixes, e.g. "h" for "h" only, "cache" for all of a cache) to
    judge; default all. A cache may legitimately hold the inputs: leave it out here.
    """
    for out_label, in_name in call.aliased:
        if outputs is not None and not any(out_label == o or out_label.startswith(o + "[")
                                           for o in outputs):
            continue
        subject = out_label if out_label.startswith("the result") else f"`{out_label}`"
        raise CheckFailed(
            f"{subject.capitalize() if subject[0] != '`' else subject} returned by `{fn_name}` is "
            f"its input `{in_name}` itself, or a view sharing its memory: writing into the result would change the caller's `{in_name}`, and changing "
            f"`{in_name}` later would change the result. Return a new array "
            f"(e.g. `np.array(...)`, `.copy()`, or the result of arithmetic), not the input or a "
            f"slice, transpose or reshape of it.")


# ---------------------------------------------------------------------------------------------
# Comparing an answer with the expected value.

def _label(index, axes, blocks, size_last):
    parts = []
    for k, i in enumerate(index):
        axis = axes[k] if axes and k < len(axes) else f"axis {k}"
        if blocks and k == len(index) - 1 and size_last % len(blocks) == 0:
            width = size_last // len(blocks)
            parts.append(f"{axis} {i} (gate {blocks[i // width]}, unit {i % width})")
        else:
            parts.append(f"{axis} {i}")
    return ", ".join(parts) if parts else "the value"


def _close(got, expected, atol, rtol):
    return got.shape == expected.shape and bool(_all(_abs(got - expected) <= atol + rtol * _abs(expected)))


def as_array(name, value):
    """The student's ``value`` as a float64 array, or CheckFailed saying what came back instead."""
    if value is None:
        raise CheckFailed(f"`{name}` is None: did the function forget to `return` it?")
    if isinstance(value, tuple):
        raise CheckFailed(f"`{name}` is a tuple of {len(value)} items where one array was "
                          f"expected: check what your function returns.")
    try:
        return _asarray(value, dtype=_float64)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"`{name}` cannot be read as an array of numbers: {exc}") from None


def assert_shape(name, got, shape, *, axes=None, hint=""):
    """The student's ``got`` as a float64 array; CheckFailed unless it has ``shape``."""
    got = as_array(name, got)
    if got.shape != tuple(shape):
        msg = f"`{name}` has shape {got.shape}; expected {tuple(shape)}"
        if axes:
            msg += " = (" + ", ".join(axes) + ")"
        if sorted(got.shape) == sorted(shape) and got.ndim >= 2:
            msg += ". The same sizes in another order: are the axes swapped? The course is batch first"
        raise CheckFailed(msg + "." + (" " + hint if hint else ""))
    return got


class Given:
    """What a later answer should be *given* the student's own earlier answer (follow-through).

    An exercise built on an earlier one (a sequence forward on the student's step, a backward on
    the student's forward) is graded on its own: when its answer is not the reference one but is
    right for the student's own earlier function, :func:`assert_close` credits it and says so
    ("Right given your `fn_name`: ..."). The value is computed lazily, only for an answer that is
    not the reference one, by calling the student's functions (nothing here computes an answer
    of an exercise on its own). Kinds:

    - :meth:`call`: ``fn(*args)`` (or one item of it); an argument may itself be a Given;
    - :meth:`recurrence`: ``fn(xs[:, t], got[:, t-1], *params)`` for every t (``h0`` at t = 0),
      stacked on axis 1: the answer is right given the step ``fn`` when every state it returned
      is ``fn`` applied to the state it returned before;
    - :meth:`gradient`: the gradient of ``sum(weight * fn(*args)[item])`` with respect to
      ``args[index]`` (or ``args[index][key]``), compared by centred finite differences along a
      few random directions (:meth:`directional`): a backward right given its forward.
    """

    def __init__(self, kind, fn_name, fn, args=(), item=None, **extra):
        self.kind, self.fn_name, self.fn, self.args, self.item = kind, fn_name, fn, list(args), item
        self.extra = extra

    @classmethod
    def call(cls, fn_name, fn, *args, item=None):
        return cls("call", fn_name, fn, args, item)

    @classmethod
    def recurrence(cls, fn_name, step, xs, h0, *params, item=0):
        return cls("recurrence", fn_name, step, (xs, h0) + tuple(params), item)

    @classmethod
    def gradient(cls, fn_name, fn, args, index, key=None, weight=None, item=0, eps=1e-6):
        return cls("gradient", fn_name, fn, args, item, index=index, key=key, weight=weight, eps=eps)

    @property
    def tolerance(self):
        """(atol, rtol) of a comparison with this value (finite differences are approximate)."""
        return (1e-6, 1e-4) if self.kind == "gradient" else (1e-7, 1e-6)

    def _apply(self, args):
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), \
                contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            out = self.fn(*copy.deepcopy(args))
        return out[self.item] if self.item is not None else out

    def value(self, got=None):
        args = [a.value() if isinstance(a, Given) else a for a in self.args]
        if self.kind == "call":
            return self._apply(args)
        if self.kind == "recurrence":
            xs, h0, params = _asarray(args[0]), args[1], args[2:]
            got = _asarray(got, dtype=_float64)
            steps = [as_array("a state", self._apply([xs[:, t], h0 if t == 0 else got[:, t - 1], *params]))
                     for t in range(xs.shape[1])]
            return _array(steps).swapaxes(0, 1)
        raise ValueError(f"kind {self.kind!r} is compared along directions: see directional()")

    def directional(self, directions):
        """For kind "gradient": the centred finite differences of sum(weight * fn(*args)[item])
        along each direction (arrays shaped like the argument), i.e. <gradient, direction>: a few
        random directions test a gradient as surely as every entry, at a few calls' cost."""
        index, key, eps = self.extra["index"], self.extra["key"], self.extra["eps"]
        weight = _asarray(self.extra["weight"], dtype=_float64)
        args = copy.deepcopy([a.value() if isinstance(a, Given) else a for a in self.args])
        holder, slot = (args, index) if key is None else (args[index], key)
        base = _array(holder[slot], dtype=_float64)
        out = []
        for v in directions:
            values = []
            for sign in (1.0, -1.0):
                holder[slot] = base + sign * eps * v
                values.append(float((weight * as_array("an output", self._apply(args))).sum()))
            out.append((values[0] - values[1]) / (2 * eps))
        return out

        raise ValueError(f"unknown kind of Given: {self.kind!r}")


def _names(fn_name):
    """'`a`' or '`a`, `b` and `c`' for one name or several."""
    names = [fn_name] if isinstance(fn_name, str) else list(fn_name)
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _follow_through(got, expected, given, atol, rtol):
    """(credited, note): whether ``got`` is right given the student's earlier answer ``given``,
    and a sentence for the failure message when the earlier answer is wrong but ``got`` is wrong
    for it too."""
    atol, rtol = max(atol, given.tolerance[0]), max(rtol, given.tolerance[1])
    if given.kind == "gradient":
        return _follow_through_gradient(got, expected, given)
    try:
        # what the earlier function gives where this answer would be right: is it right itself?
        on_expected = _asarray(given.value(expected), dtype=_float64)
        value = (_asarray(given.value(got), dtype=_float64) if given.kind == "recurrence"
                 else on_expected)
    except Exception:  # the earlier function fails or returns something else: no credit
        return False, ""
    if value.shape != got.shape or not value.size or not (
            bool(_all(_isfinite(value))) and bool(_all(_isfinite(on_expected)))):
        return False, ""  # nothing (an empty result) shows that this exercise is right
    if _close(on_expected, expected, atol, rtol):
        return False, ""  # the earlier answer is right here: nothing to follow through
    if _close(got, value, atol, rtol):
        return True, ""
    return False, (f" It is not right given your {_names(given.fn_name)} either (which is "
                   f"itself wrong here), so there is a mistake in this exercise too.")


def _follow_through_gradient(got, expected, given, count=3):
    """:func:`_follow_through` for a gradient: compared with the earlier function's finite
    differences along ``count`` fixed random directions."""
    if got.shape != expected.shape:
        return False, ""
    directions = _default_rng(0).standard_normal((count,) + expected.shape)
    try:
        numeric = given.directional(list(directions))
    except Exception:  # the earlier function fails: no credit
        return False, ""

    def fits(g):
        return all(abs(float((g * v).sum()) - d) <= 1e-6 + 1e-5 * (abs(d) + float(_abs(g * v).sum()))
                   for v, d in zip(directions, numeric))

    if not all(map(_isfinite, numeric)) or fits(expected):
        return False, ""
    if fits(got):
        return True, ""
    return False, (f" It is not right given your {_names(given.fn_name)} either (which is "
                   f"itself wrong here), so there is a mistake in this exercise too.")


def assert_close(name, got, expected, *, axes=None, blocks=None, variants=None,
                 atol=1e-7, rtol=1e-6, hint="", given=None):
    """Fail with a teaching message unless ``got`` matches ``expected`` elementwise.

    name: what the value is, for messages ("hs", "dWx").
    axes: names of the axes, e.g. ("batch row", "time step t", "unit"), to say where the largest
      error is. With an axis named "time step ..." the message also gives the first wrong step.
    blocks: names of equal blocks of the last axis, e.g. ("i", "f", "g", "o") for LSTM gates.
    variants: {description: array or zero-argument callable} of usual mistakes, each the answer
      rnn_ref gives when run the wrong way; when ``got`` matches one, the message names it;
      when several match equally (e.g. with H = 1), it names them all and none as certain.
    hint: one more sentence appended to a failure message.
    given: a :class:`Given`, for an exercise built on the student's earlier function: an answer
      that is right for that (wrong) earlier function passes, with a note saying so.
    """
    expected = _asarray(expected, dtype=_float64)
    # the shape is judged below: a mistake of another shape (one step too few) is named, and
    # a shape that follows from a wrong earlier answer is followed through
    got = as_array(name, got)
    finite = bool(_all(_isfinite(got)))
    if finite and _close(got, expected, atol, rtol):
        return
    note = ""
    if given is not None and finite:
        credited, note = _follow_through(got, expected, given, atol, rtol)
        if credited:
            names = _names(given.fn_name)
            if names in _credited:
                return
            _credited.add(names)
            print(f"Right given your {names}: `{name}` is not the reference answer, but it is "
                  f"exactly what your own {names} lead{'s' if ' and ' not in names else ''} to, "
                  f"and that earlier answer is wrong here (its own tests take its points). Each "
                  f"exercise is graded on its own, so this counts as right.")
            return
    if got.shape != expected.shape:
        wrong_shape = _matching(got, variants, atol, rtol) if finite else []
        try:
            assert_shape(name, got, expected.shape, axes=axes, hint=hint)
        except CheckFailed as failure:
            raise CheckFailed(_naming(name, wrong_shape) + str(failure)) from None
    matched = _matching(got, variants, atol, rtol)
    if not finite:
        bad = _unravel_index(int(_argmax(~_isfinite(got))), got.shape)
        raise CheckFailed(_naming(name, matched) + f"`{name}` contains NaN or infinity (first at "
                          f"{_label(bad, axes, blocks, got.shape[-1] if got.ndim else 0)})."
                          + (" " + hint if hint else ""))
    err = _abs(got - expected)
    where = _unravel_index(int(_argmax(err)), err.shape)
    msg = _naming(name, matched)
    msg += (f"`{name}` is wrong: largest error {float(err[where]):.3g} at "
            f"{_label(where, axes, blocks, got.shape[-1] if got.ndim else 0)} "
            f"(got {float(got[where]):.6g}, expected {float(expected[where]):.6g}).")
    if axes:
        t_axis = next((k for k, a in enumerate(axes) if a.startswith("time step")), None)
        if t_axis is not None and got.shape[t_axis] > 1:
            wrong = _any((err > atol + rtol * _abs(expected)).swapaxes(0, t_axis).reshape(got.shape[t_axis], -1), axis=1)
            first = int(_argmax(wrong))
            msg += f" The first wrong time step is t={first}" + (
                " (all earlier steps are right)." if first else ".")
    raise CheckFailed(msg + note + (" " + hint if hint else ""))


def _matching(got, variants, atol, rtol):
    """Descriptions of the variants (usual mistakes) that ``got`` matches: close where finite, NaN
    or infinite at the same entries (a mistake that overflows is matched by where it does)."""
    matched = []
    for description, value in (variants or {}).items():
        try:
            value = value() if callable(value) else value
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a variant may overflow: that is its point
                value = _asarray(value, dtype=_float64)
        except Exception:  # a variant that cannot be formed for these shapes does not apply
            continue
        if value.shape != got.shape:
            continue
        ok = _isfinite(got)
        if not _array_equal(ok, _isfinite(value)) or not _array_equal(got[~ok], value[~ok], equal_nan=True):
            continue
        if _close(got[ok], value[ok], atol, rtol):
            matched.append(description)
    return matched


def _naming(name, matched):
    """The opening sentence naming the usual mistake(s) an answer matches ('' for none).

    Several mistakes can give the same numbers for some inputs (with H = 1 a transposed Wh is
    Wh): then all are named, none as certain.
    """
    if not matched:
        return ""
    if len(matched) == 1:
        return f"Your `{name}` matches {matched[0]}. "
    listed = "; ".join(f"({i + 1}) {m}" for i, m in enumerate(matched))
    return (f"Your `{name}` matches {len(matched)} usual mistakes equally, which give the same "
            f"numbers for these inputs, so this test cannot tell which one you made: {listed}. ")


def mixed_scales(a, scales=(1e3, 1e-3)):
    """``a`` with its rows (axis 0) multiplied by ``scales`` in turn; returns (array, row scales).

    Inputs of very different scales in one batch: a computation that is stable for one scale
    only (a softmax shifted by the maximum of the whole array, not of each row; an epsilon added
    where it swamps small values) breaks on them, while it passes on inputs of one scale.
    """
    a = _asarray(a, dtype=_float64)
    row = _array([scales[i % len(scales)] for i in range(a.shape[0])], dtype=_float64)
    return a * row.reshape((-1,) + (1,) * (a.ndim - 1)), row


def assert_stable(name, got, expected, *, row_scales, axes=None, blocks=None, variants=None,
                  atol=1e-7, rtol=1e-6, hint=""):
    """:func:`assert_close` on an answer to inputs whose rows have very different scales
    (:func:`mixed_scales`); a failure also says at which scales the rows are right and wrong.

    row_scales: the scale of each row (axis 0) of the input, e.g. (1e3, 1e-3, 1e3, ...).
    hint: why such an answer fails at one scale only (the usual cause for this exercise).
    """
    try:
        assert_close(name, got, expected, axes=axes, blocks=blocks, variants=variants,
                     atol=atol, rtol=rtol, hint=hint)
    except CheckFailed as failure:
        got = _asarray(got, dtype=_float64)
        expected = _asarray(expected, dtype=_float64)
        if got.shape != expected.shape or not got.ndim:
            raise
        flat = (got - expected).reshape(got.shape[0], -1)
        bound = (atol + rtol * _abs(expected)).reshape(got.shape[0], -1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrong = ~_all(_isfinite(flat) & (_abs(flat) <= bound), axis=1)
        scales = _asarray(row_scales, dtype=_float64)
        bad = sorted({float(x) for x in scales[wrong]})
        good = sorted({float(x) for x in scales[~wrong]} - set(bad))
        if not (bad and good):
            raise
        scale_text = lambda values: " and ".join(f"{v:g}" for v in values)  # noqa: E731
        raise CheckFailed(
            f"Your `{name}` is right on the rows of inputs scaled by {scale_text(good)} but wrong "
            f"on the rows scaled by {scale_text(bad)} (this test mixes rows of very different "
            f"scales in one batch): the computation is not numerically stable for every row on "
            f"its own. " + str(failure)) from None


def assert_scalar_close(name, got, expected, *, tol, hint="", variants=None):
    """Fail unless the number ``got`` is within ``tol`` of ``expected`` (e.g. short numeric answers).

    variants: {description: number} of usual mistakes, named when ``got`` is within ``tol`` of one.
    """
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise CheckFailed(f"`{name}` should be a number, got {got!r:.60}.") from None
    if not abs(value - expected) <= tol:  # also fails for NaN
        matched = [d for d, v in (variants or {}).items() if abs(value - float(v)) <= tol]
        raise CheckFailed(_naming(name, matched) + f"`{name}` = {value:.6g} is not right (allowed "
                          f"error {tol:.3g})." + (" " + hint if hint else ""))


def assert_length(name, got, length, *, longer="", shorter=""):
    """Fail unless the list ``got`` has ``length`` items; ``longer``/``shorter`` explain a list of
    one item more / fewer (e.g. "the list should be [s_1, ..., s_T], without s0")."""
    if not isinstance(got, (list, tuple)):
        raise CheckFailed(f"`{name}` should be a list of {length} items, got {type(got).__name__}.")
    if len(got) != length:
        extra = {length + 1: longer, length - 1: shorter}.get(len(got), "")
        raise CheckFailed(f"`{name}` has {len(got)} items; expected {length}." + (" " + extra if extra else ""))


def unpack(name, value, count):
    """The student's return ``value`` as a tuple of ``count`` items, or CheckFailed."""
    if not isinstance(value, (tuple, list)) or len(value) != count:
        kind = f"a {type(value).__name__}" + (f" of {len(value)} items" if isinstance(value, (tuple, list)) else "")
        raise CheckFailed(f"`{name}` should return a tuple of {count} items, got {kind}.")
    return tuple(value)
