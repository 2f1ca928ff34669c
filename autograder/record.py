"""Recording the visible tests as data for the student package (run by ``release``).

Each visible test of a source notebook is run live (``autograder.checks.<topic>``, rnn_ref
computing the expected values) on the solution, once per seed of :data:`SEEDS`, with the check
helpers of its module replaced by recording ones. What the test did becomes a list of steps (see
:mod:`rnn_course.replay`): the inputs of every call, the expected values, and the answer of every
catalogued mistake (the ``variants`` of each comparison, evaluated), so that the student's copy
replays the test with no reference code and still names the mistake an answer matches.

A test whose logic cannot be stored this way (a value not traceable to what the student returned)
fails loudly here, at release, rather than shipping a test that cannot fail.
"""

import copy
import inspect
import json

import numpy as np

from rnn_course import gradients, judge
from rnn_course.replay import FORMAT

SEEDS = (101, 202, 303)  # one case per seed: random sizes and values differ between them
EDGE_SIZES = ({"T": 1}, {"N": 1, "H": 1})  # more cases, for tests that take sizes (**sizes)
_HELPERS = ("call_student", "unpack", "assert_length", "as_array", "assert_shape", "assert_close",
            "assert_scalar_close", "assert_unchanged", "assert_not_aliased", "assert_stable")
_JUDGES = gradients.JUDGES  # whole judges of rnn_course.gradients: one stored step each
_SCALARS = (bool, int, float, str, type(None))
_HELPERS += ("judged",)  # a check whose judging lives in the student package (a7's JUDGE_MODULE)


class Unrecordable(RuntimeError):
    """A visible test does something the stored data cannot express."""


class _Recording:
    """A function the test hands to the student, recording its calls (stored as a table)."""

    def __init__(self, fn):
        self.fn, self.rows, self.__name__ = fn, [], getattr(fn, "__name__", "function")

    def __call__(self, *args):
        value = self.fn(*args)
        self.rows.append((copy.deepcopy(args), copy.deepcopy(value)))
        return value

    def __deepcopy__(self, memo):  # call_student copies inputs: keep one table
        return self


class Store:
    """The arrays of one topic's data file, named a0, a1, ..."""

    def __init__(self):
        self.arrays, self.names = {}, {}

    def add(self, a):
        """The name of array ``a`` in the file: a new one, or that of an equal array stored before."""
        a = np.array(a, copy=True)
        key = (a.dtype.str, a.shape, a.tobytes())
        if key not in self.names:
            self.names[key] = f"a{len(self.arrays)}"
            self.arrays[self.names[key]] = a
        return self.names[key]

    def write(self, path, manifest):
        blob = np.frombuffer(json.dumps(manifest, sort_keys=True).encode(), dtype=np.uint8)
        np.savez_compressed(path, manifest=blob, **self.arrays)


class Recorder:
    """The steps of one run of one live test on the given functions."""

    def __init__(self, functions, store, first=True):
        self.functions, self.store, self.first = functions, store, first
        self.steps, self.index, self.leaves, self.sequences, self.calls = [], {}, [], [], {}
        self.keep = []

    # -- encoding values -----------------------------------------------------------------------
    def encode(self, value):
        if id(value) in self.index:
            return {"ref": self.index[id(value)]}
        for i, fn in enumerate(self.functions):
            if value is fn:
                return {"student": i}
        if isinstance(value, _Recording):
            return {"table": {"name": value.__name__,
                              "rows": [[self.encode(list(args)), self.encode(result)]
                                       for args, result in value.rows]}}
        if isinstance(value, np.ndarray):
            return {"arr": self.store.add(value)}
        if isinstance(value, np.generic):
            return {"num": value.item(), "dtype": value.dtype.str}
        if isinstance(value, _SCALARS):
            if isinstance(value, float) and not np.isfinite(value):
                return {"num": repr(value), "dtype": "<f8"}
            return {"lit": value}
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {"tuple": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return {"list": [self.encode(v) for v in value]}
        if isinstance(value, dict):
            return {"items": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if isinstance(value, judge.Given):  # follow-through: how to compute it, not its value
            return {"given": {"kind": value.kind, "fn_name": value.fn_name, "fn": self.encode(value.fn),
                              "args": [self.encode(a) for a in value.args], "item": value.item,
                              "extra": {k: self.encode(v) for k, v in value.extra.items()}}}
        if _is_callback(value):
            if hasattr(value, "params"):
                return {"callback": type(value).__name__, "params": self.encode(value.params())}
            return {"callback": value.__name__}
        raise Unrecordable(f"cannot store a {type(value).__name__} ({value!r:.80})")

    def encode_got(self, value, what):
        """A value the test read from the student's results: a reference to it, never a copy."""
        if id(value) in self.index:
            return {"ref": self.index[id(value)]}
        for i, fn in enumerate(self.functions):
            if value is fn:
                return {"student": i}
        for leaf, ref in reversed(self.leaves):
            if type(leaf) is type(value) and _equal(leaf, value):
                return {"ref": ref}
        if isinstance(value, np.ndarray):
            for seq, ref in reversed(self.sequences):
                for axis in range(value.ndim):
                    try:
                        stacked = np.stack([np.asarray(v, dtype=float) for v in seq], axis=axis)
                    except (ValueError, TypeError):
                        continue
                    if stacked.shape == value.shape and np.array_equal(stacked, value):
                        return {"ref": [ref[0], ref[1] + [["stack", axis]]]}
        raise Unrecordable(f"{what}: the value compared is not one the student's code returned")

    def register(self, value, step, path=(), depth=0):
        """Remember every part of a result by identity, so later steps can refer to it."""
        path = list(path)
        if id(value) not in self.index and not isinstance(value, (bool, int, str, type(None))):
            self.index[id(value)] = [step, path]
            self.keep.append(value)
        if isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
            self.leaves.append((value, [step, path]))
        if depth > 3:
            return
        if isinstance(value, (tuple, list)):
            self.sequences.append((value, [step, path]))
            for i, v in enumerate(value):
                self.register(v, step, path + [["item", i]], depth + 1)
        elif isinstance(value, dict):
            for k, v in value.items():
                self.register(v, step, path + [["item", k]], depth + 1)

    def add(self, op, args, **extra):
        self.steps.append({"op": op, "args": args, **extra})
        return len(self.steps) - 1

    # -- the recording helpers -----------------------------------------------------------------
    def call_student(self, fn, *args, **kw):
        fn_spec = self.encode(fn)
        args = [_Recording(a) if inspect.isfunction(a) and not _is_callback(a) and id(a) not in self.index
                and all(a is not f for f in self.functions) else a for a in args]
        call = judge.call_student(fn, *args, **kw)
        kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}
        k = self.add("call", {"fn": fn_spec, "args": [self.encode(a) for a in args]}, kw=kw)
        self.calls[id(call)] = k
        self.keep.append(call)
        self.register(call.value, k)
        return call

    def judged(self, test, functions, **data):
        """A check whose judging lives in the student package (e.g. a7's, which trains torch models):
        run judge ``test`` of the module's judge module live, then store its data as one step."""
        module = self.judge_module
        getattr(module, test)(*functions, **data)
        self.add("judge", {"module": module.__name__.rsplit(".", 1)[-1], "name": test,
                           "args": [self.encode(f) for f in functions],
                           "kw": [[k, self.encode(v)] for k, v in data.items()]})

    def unpack(self, name, value, count):
        spec = self.encode_got(value, name)
        out = judge.unpack(name, value, count)
        self.register(out, self.add("unpack", {"name": name, "value": spec, "count": count}))
        return out

    def assert_length(self, name, got, length, *, longer="", shorter=""):
        spec = self.encode_got(got, name)
        judge.assert_length(name, got, length, longer=longer, shorter=shorter)
        self.add("assert_length", {"name": name, "got": spec, "length": int(length),
                                   "longer": longer, "shorter": shorter})

    def as_array(self, name, value):
        spec = self.encode_got(value, name)
        out = judge.as_array(name, value)
        self.register(out, self.add("as_array", {"name": name, "value": spec}))
        return out

    def assert_shape(self, name, got, shape, *, axes=None, hint=""):
        spec = self.encode_got(got, name)
        out = judge.assert_shape(name, got, shape, axes=axes, hint=hint)
        self.register(out, self.add("assert_shape", {"name": name, "got": spec,
                                                     "shape": [int(s) for s in shape],
                                                     "axes": _list(axes), "hint": hint}))
        return out

    def assert_close(self, name, got, expected, *, axes=None, blocks=None, variants=None,
                     atol=1e-7, rtol=1e-6, hint="", given=None):
        judge.assert_close(name, got, expected, axes=axes, blocks=blocks, variants=variants,
                           atol=atol, rtol=rtol, hint=hint, given=given)
        expected = np.asarray(expected, dtype=np.float64)
        stored = []
        for description, value in (variants or {}).items():
            try:
                value = np.asarray(value() if callable(value) else value, dtype=np.float64)
            except Exception:  # noqa: BLE001 (as judge.assert_close: the variant does not apply)
                continue
            if value.ndim and (value.shape != expected.shape or not judge._close(value, expected, atol, rtol)):
                stored.append([description, {"arr": self.store.add(value)}])
        self.add("assert_close", {"name": name, "got": self.encode_got(got, name),
                                  "expected": {"arr": self.store.add(expected)},
                                  "axes": _list(axes), "blocks": _list(blocks), "variants": stored,
                                  "atol": atol, "rtol": rtol, "hint": hint,
                                  **({"given": self.encode(given)} if given is not None else {})})

    def assert_scalar_close(self, name, got, expected, *, tol, hint="", variants=None):
        judge.assert_scalar_close(name, got, expected, tol=tol, hint=hint, variants=variants)
        self.add("assert_scalar_close", {"name": name, "got": self.encode_got(got, name),
                                         "expected": float(expected), "tol": float(tol), "hint": hint,
                                         "variants": [[d, float(v)] for d, v in (variants or {}).items()]})

    def assert_unchanged(self, call, fn_name):
        judge.assert_unchanged(call, fn_name)
        self.add("assert_unchanged", {"call": self.calls[id(call)], "fn_name": fn_name})

    def judge(self, name):
        """A recording stand-in for the judge ``name`` of rnn_course.gradients: it runs live, then
        stores its arguments (the student's functions by position, the arrays as data)."""

        def run(*args, **kw):
            getattr(gradients, name)(*args, **kw)
            if not self.first:  # the usual mistakes are named from the first case (smaller data)
                kw.pop("variants", None)
            self.add("judge", {"module": "gradients", "name": name, "args": [self.encode(a) for a in args],
                               "kw": [[k, self.encode(v)] for k, v in kw.items()]})

        return run

    def assert_not_aliased(self, call, fn_name, outputs=None):
        judge.assert_not_aliased(call, fn_name, outputs=outputs)
        self.add("assert_not_aliased", {"call": self.calls[id(call)], "fn_name": fn_name,
                                        "outputs": _list(outputs)})

    def assert_stable(self, name, got, expected, *, row_scales, axes=None, blocks=None,
                      variants=None, atol=1e-7, rtol=1e-6, hint=""):
        judge.assert_stable(name, got, expected, row_scales=row_scales, axes=axes, blocks=blocks,
                            variants=variants, atol=atol, rtol=rtol, hint=hint)
        self.assert_close(name, got, expected, axes=axes, blocks=blocks, variants=variants,
                          atol=atol, rtol=rtol, hint=hint)
        self.steps[-1].update(op="assert_stable")
        self.steps[-1]["args"]["row_scales"] = [float(v) for v in row_scales]


def _is_callback(value):
    return getattr(type(value) if hasattr(value, "params") else value, "__module__", "") == "rnn_course.callbacks"


def _list(value):
    return list(value) if value is not None else None


def _equal(a, b):
    if isinstance(a, np.ndarray):
        return a.shape == np.shape(b) and bool(np.array_equal(a, b))
    return a == b


def record_test(module, test, functions, store, seeds=SEEDS, edges=EDGE_SIZES):
    """The stored cases of visible test ``test`` of check ``module`` run on ``functions``.

    One case per seed; then, when the test takes sizes (``**sizes``), one case per entry of
    ``edges`` that the test accepts (a single step, a single unit and sequence).
    """
    live = getattr(module, test)
    takes_sizes = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(live).parameters.values())
    runs = [(seed, {}) for seed in seeds] + [(seeds[0], edge) for edge in (edges if takes_sizes else ())]
    cases, saved_seed = [], judge._seed
    saved = {name: module.__dict__[name] for name in _HELPERS + _JUDGES if name in module.__dict__}
    try:
        for seed, sizes in runs:
            judge._seed = seed
            recorder = Recorder(functions, store, first=not cases)
            recorder.judge_module = getattr(module, "JUDGE_MODULE", None)
            module.__dict__.update({name: recorder.judge(name) if name in _JUDGES else getattr(recorder, name)
                                    for name in saved})
            try:
                live(*functions, **sizes)
            except TypeError:
                if not sizes:
                    raise
                continue  # this test fixes that size itself
            finally:
                module.__dict__.update(saved)
            if not any(s["op"].startswith("assert") or s["op"] == "judge" for s in recorder.steps):
                raise Unrecordable(f"{module.__name__}.{test} compared nothing through the helpers")
            cases.append({"seed": seed, "sizes": sizes, "steps": recorder.steps})
    finally:
        judge._seed = saved_seed
    cases[0]["doc"] = (live.__doc__ or "").strip()
    return cases


def manifest(tests, version):
    """The JSON manifest of a topic's data file."""
    return {"format": FORMAT, "version": version, "tests": tests}


class _RecordingTopic:
    """Stands for ``rnn_course.checks.<topic>`` while a source notebook's visible tests run."""

    def __init__(self, module, store, tests):
        self._module, self._store, self._tests = module, store, tests

    def __getattr__(self, test):
        if test.startswith("_"):
            raise AttributeError(test)
        if test in getattr(self._module, "STUDENT_DATA", ()):
            return getattr(self._module, test)

        def record(*functions):
            self._tests[test] = record_test(self._module, test, functions, self._store)

        return record


def record_assignment(source_path, data_dir, version, skip=()):
    """Run a source notebook's code with its solutions and store its visible tests' data.

    Writes ``data_dir/<topic>.npz`` for the topic its test cells import from rnn_course.checks;
    returns that path. skip: grade ids of cells not to run (none by default).
    """
    import contextlib
    import importlib
    import io
    import re
    from pathlib import Path

    import nbformat

    import rnn_course.checks as student_checks

    from .authoring import solution_code

    nb = nbformat.read(str(source_path), as_version=4)
    namespace, tests, store, topic = {"__name__": "__main__"}, {}, Store(), None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade_id") in skip:
            continue
        if meta.get("grade") and "BEGIN HIDDEN TESTS" in cell.source:
            continue
        code = solution_code(cell) if meta.get("solution") else cell.source
        if code.lstrip().startswith(("%", "!")) or meta.get("grade_id") == "install":
            continue
        found = re.search(r"from rnn_course\.checks import (\w+)", code)
        if found:
            topic = found.group(1)
            module = importlib.import_module(f"autograder.checks.{topic}")
            setattr(student_checks, topic, _RecordingTopic(module, store, tests))  # before __getattr__
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, meta.get("grade_id", "cell"), "exec"), namespace)
        finally:
            for name in student_checks.TOPICS:
                vars(student_checks).pop(name, None)
    if topic is None:
        raise Unrecordable(f"{source_path}: no cell imports rnn_course.checks")
    module = importlib.import_module(f"autograder.checks.{topic}")
    given = {}
    for name in getattr(module, "STUDENT_DATA", ()):
        given[name] = Recorder((), store).encode(getattr(module, name)())
    path = Path(data_dir) / f"{topic}.npz"
    store.write(path, {**manifest(tests, version), "given": given})
    return path
