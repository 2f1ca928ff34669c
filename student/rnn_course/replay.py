"""The visible tests, replayed from stored reference data: no reference implementation inside.

``python -m autograder release`` ran every visible test of the course with the reference
implementation and stored, per test and per case (one case per seed: several sizes), what the
test did, as a list of steps:

- ``call``: call one of the functions handed to the test (or a value one of them returned) with
  stored inputs, through :func:`rnn_course.judge.call_student`;
- ``unpack`` / ``as_array`` / ``assert_shape``: read what came back;
- ``assert_close`` / ``assert_scalar_close``: compare it with the stored expected value, with
  the stored answers of the catalogued mistakes (so the message still names the mistake) and,
  for an exercise built on an earlier one, how to compute what it should be given the student's
  own earlier function (``{"given": ...}``, see :class:`rnn_course.judge.Given`);
- ``assert_stable``: ``assert_close`` on inputs mixing rows of very different scales;
- ``assert_unchanged``: the call left its inputs untouched; ``assert_not_aliased``: its result
  shares no memory with its inputs;
- ``judge``: one judge of the package (a function listed in ``JUDGES`` of
  :mod:`rnn_course.gradients` or :mod:`rnn_course.charlm_judge`) with stored arguments: it calls
  the student's functions itself (block, path and time diagnosis of gradients, follow-through;
  a7's tests that train torch models and draw samples).

Steps refer to earlier results by ``{"ref": [step, path]}``, so a cache that the student's forward
returned goes into the student's backward. A function the test hands to the student (an ``R``
for ``unroll``) is stored as the table of its calls (``{"table": ...}``) or named when it lives in
:mod:`rnn_course.callbacks`. The data files are ``rnn_course/data/<topic>.npz``: a JSON manifest
(``manifest``) and the arrays it names.
"""

import contextlib
import importlib.resources
import io
import json

import numpy as np

from . import gradients, judge  # imported with the package: both capture numpy before student code runs

FORMAT = 1
_array_equal = np.array_equal
_allclose = np.allclose


# Set by a trusted process that runs many test cells and no student code (the grader,
# autograder.channel) to {topic: (manifest text, npz file, {name: read-only array})}: the data
# files are then read and unpacked once per process, not once per test cell. In a notebook it
# stays None, and every Topic reads the file anew.
shared = None


def load(topic):
    """(manifest dict, {array name: array}) of ``rnn_course/data/<topic>.npz``.

    The file is read whole, and each array is unpacked from that copy when a test first uses it
    (a test uses a few dozen of the topic's hundreds; unpacking them all took 0.1-0.2 s per
    test cell). With :data:`shared`, the file and the arrays unpacked (read-only) are kept for
    the next test cells; the manifest is parsed anew for each.
    """
    if shared is not None and topic in shared:
        text, data, read = shared[topic]
    else:
        ref = importlib.resources.files(__package__).joinpath("data", f"{topic}.npz")
        with ref.open("rb") as handle:
            data = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        text, read = data["manifest"].tobytes().decode(), {}
        if shared is not None:
            shared[topic] = text, data, read
    manifest = json.loads(text)
    if manifest.get("format") != FORMAT:
        raise RuntimeError(f"rnn_course data {topic}: format {manifest.get('format')}, "
                           f"this package reads format {FORMAT}; reinstall the package.")
    return manifest, _Arrays(data, read if shared is not None else {})


class _Arrays:
    """The arrays of one loaded data file by name, each unpacked on first use (read-only)."""

    def __init__(self, npz, read):
        self._npz, self._read = npz, read

    def __getitem__(self, name):
        if name not in self._read:
            if name == "manifest" or name not in self._npz.files:
                raise KeyError(name)
            array = self._npz[name]
            array.setflags(write=False)
            self._read[name] = array
        return self._read[name]

    def __contains__(self, name):
        return name != "manifest" and name in self._npz.files

    def keys(self):
        return [n for n in self._npz.files if n != "manifest"]

    def __deepcopy__(self, memo):
        return self  # read only through _Case.decode, which copies every array it hands out


class _Table:
    """A function given to the student, as the stored table of (arguments -> result) of its calls."""

    def __init__(self, spec, decode):
        self.__name__ = spec["name"]
        self._rows = [(decode(args), value) for args, value in spec["rows"]]
        self._decode = decode

    def __call__(self, *args):
        for stored, value in self._rows:
            if len(stored) == len(args) and all(map(_same_input, stored, args)):
                return self._decode(value)
        raise judge.CheckFailed(
            f"Your code called the given function `{self.__name__}` with inputs this test did not "
            f"expect: follow the order of the steps in the task (each step uses the state of the "
            f"step before), and call `{self.__name__}` once per step.")


def _same_input(stored, given):
    if isinstance(stored, np.ndarray):
        try:
            given = np.asarray(given, dtype=float)
        except (TypeError, ValueError):
            return False
        return given.shape == stored.shape and bool(_allclose(given, stored, rtol=1e-12, atol=1e-12))
    if isinstance(stored, (tuple, list)):
        return isinstance(given, (tuple, list)) and len(stored) == len(given) and all(
            map(_same_input, stored, given))
    return stored == given


def _follow(value, path):
    """value[k1][k2]... along ``path`` (list of [kind, key]); kinds: item, attr, stack."""
    for kind, key in path:
        if kind == "item":
            value = value[key]
        elif kind == "attr":
            value = getattr(value, key)
        elif kind == "stack":  # a list the test stacked into one array
            value = np.stack([judge.as_array("an item", v) for v in value], axis=key)
        else:
            raise RuntimeError(f"unknown path step {kind!r}")
    return value


class _Case:
    """One stored case run against the student's functions."""

    def __init__(self, case, arrays, functions):
        self.case, self.arrays, self.functions = case, arrays, functions
        self.results, self.calls = {}, {}

    def decode(self, spec):
        if not isinstance(spec, dict):
            return spec
        if "arr" in spec:
            return self.arrays[spec["arr"]].copy()
        if "lit" in spec:
            return spec["lit"]
        if "num" in spec:
            return np.dtype(spec["dtype"]).type(spec["num"])
        if "tuple" in spec:
            return tuple(self.decode(s) for s in spec["tuple"])
        if "list" in spec:
            return [self.decode(s) for s in spec["list"]]
        if "items" in spec:
            return {self.decode(k): self.decode(v) for k, v in spec["items"]}
        if "ref" in spec:
            step, path = spec["ref"]
            return _follow(self.results[step], path)
        if "student" in spec:
            return self.functions[spec["student"]]
        if "callback" in spec:
            from . import callbacks

            found = getattr(callbacks, spec["callback"])
            return found(**self.decode(spec["params"])) if "params" in spec else found
        if "given" in spec:  # follow-through: evaluated by judge only for a non-reference answer
            g = spec["given"]
            return judge.Given(g["kind"], g["fn_name"], self.decode(g["fn"]),
                               [self.decode(a) for a in g["args"]], g["item"],
                               **{k: self.decode(v) for k, v in g["extra"].items()})
        if "table" in spec:
            return _Table(spec["table"], self.decode)
        raise RuntimeError(f"rnn_course data: cannot read {spec!r}")

    def run(self):
        for k, step in enumerate(self.case["steps"]):
            op, a = step["op"], step.get("args", {})
            get = lambda name: self.decode(a[name])  # noqa: E731
            if op == "call":
                kw = dict(step["kw"])
                if isinstance(kw.get("own_implementation"), list):
                    kw["own_implementation"] = tuple(kw["own_implementation"])
                call = judge.call_student(get("fn"), *[self.decode(s) for s in a["args"]], **kw)
                self.calls[k], self.results[k] = call, call.value
            elif op == "judge":  # a whole judge of the package (it calls the student's code itself)
                judges = _judges(a["module"])
                if a["name"] not in judges.JUDGES:
                    raise RuntimeError(f"rnn_course data: no judge {a['name']!r}; update the package.")
                getattr(judges, a["name"])(*[self.decode(s) for s in a["args"]],
                                           **{k: self.decode(v) for k, v in a["kw"]})
            elif op == "unpack":
                self.results[k] = judge.unpack(a["name"], get("value"), a["count"])
            elif op == "assert_length":
                judge.assert_length(a["name"], get("got"), a["length"], longer=a["longer"],
                                    shorter=a["shorter"])
            elif op == "as_array":
                self.results[k] = judge.as_array(a["name"], get("value"))
            elif op == "assert_shape":
                self.results[k] = judge.assert_shape(a["name"], get("got"), tuple(a["shape"]),
                                                     axes=a.get("axes"), hint=a.get("hint", ""))
            elif op in ("assert_close", "assert_stable"):
                variants = {d: self.decode(v) for d, v in a.get("variants", [])}
                extra = {"row_scales": a["row_scales"]} if op == "assert_stable" else {}
                if "given" in a:  # follow-through; not for a notebook whose cell passes fewer functions
                    try:
                        extra["given"] = get("given")
                    except IndexError:
                        pass
                getattr(judge, op)(a["name"], get("got"), get("expected"), axes=a.get("axes"),
                                   blocks=a.get("blocks"), variants=variants, atol=a["atol"],
                                   rtol=a["rtol"], hint=a.get("hint", ""), **extra)
            elif op == "assert_scalar_close":
                judge.assert_scalar_close(a["name"], get("got"), a["expected"], tol=a["tol"],
                                          hint=a.get("hint", ""), variants=dict(a.get("variants", [])))
            elif op == "assert_unchanged":
                judge.assert_unchanged(self.calls[a["call"]], a["fn_name"])
            elif op == "assert_not_aliased":
                judge.assert_not_aliased(self.calls[a["call"]], a["fn_name"], outputs=a.get("outputs"))
            else:
                raise RuntimeError(f"rnn_course data: unknown step {op!r}; update the package.")


JUDGE_MODULES = ("gradients", "charlm_judge")  # the modules whose JUDGES a stored step may call


def _judges(module):
    """The judge module ``rnn_course.<module>`` named by stored data (one of JUDGE_MODULES)."""
    if module not in JUDGE_MODULES:
        raise RuntimeError(f"rnn_course data: no judge module {module!r}; update the package.")
    return importlib.import_module(f"{__package__}.{module}")


class Topic:
    """The visible tests of one topic: ``Topic("elman").forward_values(elman_forward)``."""

    def __init__(self, name):
        self._name = name
        self._data = None

    def _tests(self):
        if self._data is None:
            self._data = load(self._name)
        return self._data

    def __getattr__(self, test):
        if test.startswith("_"):
            raise AttributeError(test)
        manifest, arrays = self._tests()
        if test in manifest.get("given", {}):  # data the notebook uses, e.g. to plot
            return lambda: _Case({"steps": []}, arrays, ()).decode(manifest["given"][test])
        if test not in manifest["tests"]:
            raise AttributeError(f"rnn_course.checks.{self._name} has no visible test {test!r}")
        cases = manifest["tests"][test]

        def check(*functions):
            # the cases print the same notes (a warning, a follow-through credit): once each
            printed = io.StringIO()
            judge._credited.clear()  # a new test: its follow-through note is said again
            try:
                with contextlib.redirect_stdout(printed):
                    for case in cases:
                        _Case(case, arrays, functions).run()
            finally:
                print("".join(dict.fromkeys(printed.getvalue().splitlines(keepends=True))), end="")

        check.__name__ = check.__qualname__ = test
        check.__doc__ = cases[0].get("doc") if cases else None
        return check

    def __dir__(self):
        return sorted(self._tests()[0]["tests"])

    def __repr__(self):
        return f"<visible tests of {self._name} (rnn_course {judge_version()})>"


def judge_version():
    from . import __version__

    return __version__
