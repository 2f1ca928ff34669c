"""The grading kernel: the student's side of the channel.

The tests run in the grader (autograder.channel): for each call of a student's function the
grader sends a request (a test cell's requests in one session, :meth:`Server.session`) that
:class:`Server` answers: it looks up the notebook's names, calls the student's functions
(observed through rnn_course.judge.call_student), runs an experiment of the course's package on
them (rnn_course.experiment: a7's checks, which train a torch model in place) and sends the
results back as autograder.wire data, each call from the restored start-up state below (:meth:`Guard.restore`, which finds what
changed by CPython's dict versions).

This kernel (``python -m autograder.kernel -f CONNECTION_FILE``, started by
autograder.containment) takes a snapshot when it starts, before any cell runs (:class:`Guard`):
the modules the source notebook's trusted cells import (``$AUTOGRADER_TRUSTED_MODULES``, imported
here first), IPython's hooks, ``sys`` and ``builtins``, the environment. Before each request that
calls the student's code, :meth:`Guard.restore` puts back the functions, classes and module
objects of every module loaded at start-up (so ``np.allclose = ...`` or a fake
``sys.modules['rnn_course.judge']`` are undone), every global of the course's own packages, the
code of their functions, ``builtins``, ``sys.stdout``/``displayhook``/``excepthook``/import
hooks/trace and profile functions, the environment, and IPython's input transformers, AST
transformers, pre/post-run events, custom exception handlers and display hook: the observation of
a call (and an experiment) runs the course's own code, not what a cell made of it.

This is in-process protection: code that runs in the same interpreter can, in principle, reach
anything in it. What it protects is an observation, never a verdict: the verdict and the expected
values stay in the grader. The tamper scan (autograder.tamper) refuses the direct handles (frames,
trace functions, ``ctypes``, ``gc``, interpreter internals); the sandbox bounds the rest to the
student's own grade. autograder/INSTRUCTORS.md states what holds.
"""

import builtins
import contextlib
import importlib
import itertools
import operator
import os
import sys
import textwrap
import threading
import time
import types

from ipykernel.ipkernel import IPythonKernel

from . import wire

CALL_MARK = "# autograder: call (autograder.channel)\n"  # a request of the trusted grader (Server)
_clock = time.perf_counter
CALLBACK_MARK = "autograder-callback:"  # the prompt of an input request that calls the grader back
SESSION = '{"op": "session"}'  # a request that opens a session: the test cell's requests come through stdin
SESSION_MARK = "autograder-answer:"  # the prompt of an input request that answers and asks for the next request
SESSION_END = "end"  # the reply to that prompt that ends the session
PRINTED_LIMIT = 200_000  # characters of what one request's code prints that the answer carries
TRUSTED_VARIABLE = "AUTOGRADER_TRUSTED_MODULES"
# what the Server uses to observe a call and to rebuild the course's given functions
SERVER_MODULES = ("rnn_course.judge", "rnn_course.callbacks", "rnn_course.given")
# the modules whose EXPERIMENTS the Server runs (rnn_course.experiment), when loaded at start-up
EXPERIMENT_MODULES = ("rnn_course.charlm_judge",)
# libraries whose module globals hold state of their own: only their code objects are restored
LIBRARIES = ("numpy", "torch", "scipy", "matplotlib", "pandas", "IPython", "ipykernel")
_CODE = (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType, staticmethod,
         classmethod, property, types.MethodType)
# IPython shell attributes that hook into running a cell
SHELL_HOOKS = ("displayhook", "display_pub", "display_trap", "custom_exceptions", "CustomTB",
               "events", "compile", "input_transformer_manager", "ast_transformers", "InteractiveTB",
               "SyntaxTB", "showtraceback", "_showtraceback", "run_cell", "run_cell_async",
               "run_code", "user_ns", "user_module")


def _is_code(value):
    return isinstance(value, _CODE) or type(value).__name__ in ("ufunc", "_ArrayFunctionDispatcher",
                                                                  "builtin_function_or_method",
                                                                  "method_descriptor", "wrapper_descriptor")


# builtins and helpers of restore(), taken when this module is imported (before any cell runs)
_all, _map, _len, _isinstance, _tuple, _list = all, map, len, isinstance, tuple, list
_chain = itertools.chain.from_iterable
_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: type.__setattr__ refuses to change such a class
try:
    from _testcapi import dict_get_version as _dict_version  # CPython's dict versions (PEP 509)
except ImportError:  # another Python, or a build without its test module: compared entry by entry
    _dict_version = None
_keys, _values = operator.methodcaller("keys"), operator.methodcaller("values")
_is = operator.is_
_repeat = itertools.repeat
_code, _defaults, _kwdefaults = (operator.attrgetter(a) for a in ("__code__", "__defaults__", "__kwdefaults__"))


def _same_objects(found, expected):
    """Whether the iterable ``found`` yields the objects of the list ``expected`` (identity), in order."""
    found = _tuple(found)
    return _len(found) == _len(expected) and _all(_map(_is, found, expected))


def _contents(namespace):
    """(keys, values) of a namespace, as tuples: what :func:`_unchanged` compares with."""
    return _tuple(namespace.keys()), _tuple(namespace.values())


class _Contents:
    """Many namespaces ({key: namespace}) at once: which of them changed since the last look.

    CPython gives every dict a version that each change of it sets anew, to a number no other
    change had (PEP 509); its test module reads it. Where it can, this compares the versions of
    the namespaces' dicts (those of classes found behind their mappingproxy), a few hundredths of
    a millisecond for all, and names those whose version moved; else it compares their keys and
    values flat, object for object, in C (about a millisecond for 20,000 entries: every object
    is touched), and names them all when any differs.
    """

    def __init__(self, namespaces):
        self.namespaces = namespaces
        self.names = _list(namespaces)
        values = _list(namespaces.values())
        self.dicts = _dicts(values) if _dict_version is not None else None
        if self.dicts is not None:
            self.versions = _list(_map(_dict_version, self.dicts))
            return
        self.lengths = _list(_map(_len, values))
        self.keys = _tuple(_chain(_map(_keys, values)))
        self.values = _tuple(_chain(_map(_values, values)))

    def changed(self):
        """The keys of the namespaces that may have changed (a set; empty when none did)."""
        if self.dicts is not None:
            versions = _list(_map(_dict_version, self.dicts))
            if versions == self.versions:
                return set()
            return {name for name, now, then in zip(self.names, versions, self.versions) if now != then}
        values = _list(self.namespaces.values())
        if (_list(_map(_len, values)) == self.lengths and _all(_map(_is, _chain(_map(_keys, values)), self.keys))
                and _all(_map(_is, _chain(_map(_values, values)), self.values))):
            return set()
        return set(self.names)

    def update(self, changed):
        """After the namespaces ``changed`` were restored: remember them as they are now."""
        if self.dicts is not None:
            for k, name in enumerate(self.names):
                if name in changed:
                    self.versions[k] = _dict_version(self.dicts[k])
        else:
            self.__init__(self.namespaces)


def _dicts(namespaces):
    """The dict behind each namespace (a class's mappingproxy holds its dict), or None."""
    import gc

    found = []
    for namespace in namespaces:
        if type(namespace) is dict:
            found.append(namespace)
            continue
        inner = [d for d in gc.get_referents(namespace) if isinstance(d, dict)]  # (ctypes': a dict subclass)
        if type(namespace) is not types.MappingProxyType or len(inner) != 1 or inner[0].keys() != namespace.keys():
            return None
        found.append(inner[0])
    return found


def _unchanged(namespace, contents):
    """Whether ``namespace`` holds the very keys and values of ``contents``, in the same order."""
    keys, values = contents
    return (_len(namespace) == _len(keys) and _all(_map(_is, namespace.keys(), keys))
            and _all(_map(_is, namespace.values(), values)))


class Guard:
    """The start-up snapshot of a kernel, and how it is restored before the grader calls the student's code."""

    def __init__(self, shell):
        self.shell = shell
        trusted = [n for n in os.environ.get(TRUSTED_VARIABLE, "").split(",") if n] + list(SERVER_MODULES)
        for name in trusted:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 (a module the notebook fails to import fails there too)
                pass
        # the course's own packages (checks, reference, stored data): every global is restored
        self.strict = {n.split(".")[0] for n in trusted} - set(LIBRARIES) | {"autograder", "rnn_ref", "rnn_course"}
        self.modules = dict(sys.modules)
        watched = self._watched()
        self.module_dicts = {name: dict(vars(self.modules[name])) for name in watched}
        self.class_dicts = {}
        self.function_code = []
        for name, namespace in self.module_dicts.items():
            strict = name.split(".")[0] in self.strict or name == "numpy"
            for value in namespace.values():
                if isinstance(value, type) and getattr(value, "__module__", None) == name:
                    if not value.__flags__ & _IMMUTABLE_TYPE:  # (no cell can change those)
                        self.class_dicts[value] = {k: v for k, v in vars(value).items() if _is_code(v)}
                    if strict:
                        self.function_code += [(f, f.__code__, f.__defaults__, f.__kwdefaults__)
                                               for f in vars(value).values() if isinstance(f, types.FunctionType)]
                elif strict and isinstance(value, types.FunctionType) and value.__module__ == name:
                    self.function_code.append((value, value.__code__, value.__defaults__, value.__kwdefaults__))
        self.builtins = dict(vars(builtins))
        self.sys = {k: getattr(sys, k) for k in ("stdout", "stderr", "stdin", "displayhook", "excepthook",
                                                 "__stdout__", "__stderr__", "breakpointhook")}
        self.sys_lists = {k: list(getattr(sys, k)) for k in ("meta_path", "path_hooks", "path")}
        self.environ = dict(os.environ)
        self.shell_hooks = {k: getattr(shell, k) for k in SHELL_HOOKS if hasattr(shell, k)}
        self.instance_keys = set(vars(shell))
        self.lists = [(lst, list(lst)) for lst in (shell.input_transformers_cleanup,
                                                   shell.input_transformers_post, shell.ast_transformers)]
        self.events = {k: list(v) for k, v in shell.events.callbacks.items()}
        self.compile, self.exec, self.setattr = compile, exec, type.__setattr__
        self.settrace, self.setprofile = sys.settrace, sys.setprofile
        # what restore() left in each namespace it watches, to tell cheaply that nothing changed
        self.module_names, self.module_objects = list(self.modules), list(self.modules.values())
        self.namespaces = {name: vars(self.modules[name]) for name in self.module_dicts}
        self.namespaces.update({cls: vars(cls) for cls in self.class_dicts})
        self.namespaces[builtins] = vars(builtins)
        self.seen = {key: _contents(namespace) for key, namespace in self.namespaces.items()}
        self.everything = _Contents(self.namespaces)
        self.codes = [[f for f, _, _, _ in self.function_code]] + [
            [entry[k] for entry in self.function_code] for k in (1, 2, 3)]

    def _watched(self, depth=2):
        """Names of the modules whose globals are restored: the course's own packages, and the
        modules they reach through their globals within ``depth`` steps (``np``, ``torch``,
        ``torch.nn``, ``F``...). Restoring every loaded module (torch has over a thousand) would
        cost a tenth of a second per test."""
        names = {n for n, m in self.modules.items() if isinstance(m, types.ModuleType)
                 and n.split(".")[0] in self.strict}
        frontier = set(names)
        for _ in range(depth):
            reached = set()
            for name in frontier:
                for value in list(vars(self.modules[name]).values()):
                    if isinstance(value, types.ModuleType) and sys.modules.get(value.__name__) is value:
                        reached.add(value.__name__)
                    elif callable(value) and isinstance(getattr(value, "__module__", None), str) \
                            and isinstance(sys.modules.get(value.__module__), types.ModuleType):
                        reached.add(value.__module__)  # where an imported function or class lives
            frontier = reached - names
            names |= reached
        return sorted((names | {"builtins", "numpy", "numpy.testing"}) & set(self.modules) - {"__main__", "sys"})

    def restore(self):
        """Undo what cells may have changed in the trusted state (see the module docstring).

        A namespace (a module's globals, a class's dict, builtins) that holds exactly the same
        keys and values, object for object, as after the last restore needs nothing: restoring
        it would change nothing. That comparison runs in C (a few hundredths of a microsecond per
        entry); only a namespace that differs is gone through key by key.
        """
        self.settrace(None)
        self.setprofile(None)
        threading.settrace(None)
        threading.setprofile(None)
        modules = sys.modules
        if not _same_objects(_map(modules.get, self.module_names), self.module_objects):
            for name, module in self.modules.items():
                if modules.get(name) is not module:
                    modules[name] = module
        if not _all(_map(_isinstance, modules.values(), _repeat(types.ModuleType))):
            for name in [n for n, m in modules.items() if not isinstance(m, types.ModuleType)]:
                del modules[name]
        changed = self.everything.changed()
        if changed:
            self._restore_namespaces(changed)
            self.everything.update(changed)
        functions, codes, defaults, kwdefaults = self.codes
        if not (_same_objects(_map(_code, functions), codes) and _same_objects(_map(_defaults, functions), defaults)
                and _same_objects(_map(_kwdefaults, functions), kwdefaults)):
            for function, code, defaults, kwdefaults in self.function_code:
                if function.__code__ is not code:
                    function.__code__ = code
                function.__defaults__, function.__kwdefaults__ = defaults, kwdefaults
        self._restore_rest()

    def _restore_namespaces(self, changed):
        """The module globals, class dicts and builtins that differ from the last restore's,
        among those whose keys are in ``changed``."""
        namespaces, seen = self.namespaces, self.seen
        for name, saved in self.module_dicts.items():
            current = namespaces[name]
            if name not in changed or _unchanged(current, seen[name]):
                continue
            every = name == "numpy" or name.split(".")[0] in self.strict
            for key, value in saved.items():
                if current.get(key, self) is not value and (every or _is_code(value)):
                    current[key] = value
            seen[name] = _contents(current)
        for cls, saved in self.class_dicts.items():
            current = namespaces[cls]
            if cls not in changed or _unchanged(current, seen[cls]):
                continue
            for key, value in saved.items():
                if current.get(key, self) is not value:
                    try:
                        self.setattr(cls, key, value)
                    except (TypeError, AttributeError):
                        pass
            seen[cls] = _contents(current)
        current = namespaces[builtins]
        if builtins in changed and not _unchanged(current, seen[builtins]):
            for key in [k for k in current if k not in self.builtins]:
                del current[key]
            for key, value in self.builtins.items():
                if current.get(key, self) is not value and key != "_":
                    current[key] = value
            seen[builtins] = _contents(current)

    def _restore_rest(self):
        for key, value in self.sys.items():
            setattr(sys, key, value)
        for key, value in self.sys_lists.items():
            getattr(sys, key)[:] = value
        sys.path_importer_cache.clear()
        if dict(os.environ) != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        for key, value in self.shell_hooks.items():
            if key in vars(self.shell) and key not in self.instance_keys:
                del vars(self.shell)[key]  # an instance attribute hiding the class's method
            if getattr(self.shell, key, None) is not value:
                setattr(self.shell, key, value)
        for lst, saved in self.lists:
            lst[:] = saved
        self.shell.events.callbacks.clear()
        self.shell.events.callbacks.update({k: list(v) for k, v in self.events.items()})
        self.shell.user_ns["__builtins__"] = builtins


def _text(value, limit=4000):
    try:
        return str(value)[:limit]
    except BaseException:  # noqa: BLE001 (a student's exception whose __str__ fails)
        return "(the exception's message could not be read)"


def failure_text(name, message, frames):
    """'Name:', the message wrapped, and the student's own frames (no grader frame, no path)."""
    lines = [f"{name}:"] + [line for paragraph in message.split("\n")
                            for line in (textwrap.wrap(paragraph, width=100) or [""])]
    if frames:
        lines += ["Where your code raised it:", *frames[-5:]]
    return "\n".join(lines)


def _frames(exc):
    """'  in f, line 3: text' for each frame of the traceback that is the student's code."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename != "<test cell>" and not code.co_filename.startswith(_TRUSTED_PREFIXES):
            import linecache

            text = linecache.getline(code.co_filename, tb.tb_lineno).strip()
            frames.append(f"  in {_text(code.co_name, 100)}, line {tb.tb_lineno}: {_text(text, 200)}")
        tb = tb.tb_next
    return frames


_TRUSTED_PREFIXES = tuple(sorted({os.path.dirname(os.path.dirname(os.__file__)), sys.prefix,
                                  sys.base_prefix, os.path.dirname(os.path.dirname(__file__))}))


class Server:
    """The kernel's end of autograder.channel: looks up, calls and observes the student's objects.

    A request is a JSON object (``op``: ``lookup`` a name of the notebook, ``call`` a function
    (``observe``: through rnn_course.judge.call_student, which copies the inputs, records
    warnings, compares the inputs after the call and runs the forbidden-shortcut profiler),
    ``call_many`` (the same for several argument lists), ``experiment`` (an experiment of the
    course's package on the student's objects, rnn_course.experiment: data back only), ``getattr``,
    ``reset`` the handles). It
    comes as an execute_request whose code is :data:`CALL_MARK` and the JSON, answered in the
    execute reply's ``autograder`` field, or inside a session (:meth:`session`, a test cell's
    requests through the stdin channel). Values cross as autograder.wire data;
    anything else stays here as a numbered handle. A function of the grader's that the student's
    code calls (an ``R`` given to ``unroll``) asks the grader through an input request
    (:data:`CALLBACK_MARK`). Before each call the kernel's start-up state is restored (:class:`Guard`).
    """

    def __init__(self, kernel, guard):
        self.kernel, self.guard = kernel, guard
        self.handles = {}
        self.took, self.printed = {}, None

    def _handle(self, value):
        if isinstance(value, _GraderFunction):
            return {"h": value.id, "owner": "grader", "name": value.__name__, "call": True}
        key = len(self.handles) + 1
        self.handles[key] = value
        name = getattr(value, "__name__", None) if not isinstance(value, types.ModuleType) else None
        return {"h": key, "owner": "kernel", "type": _text(type(value).__name__, 100),
                "name": _text(name, 100) if isinstance(name, str) else None, "call": callable(value)}

    def _object(self, spec):
        if spec.get("owner") == "grader":
            return _GraderFunction(self, spec)
        try:
            return self.handles[spec["h"]]
        except (KeyError, TypeError):
            raise wire.WireError("an unknown handle") from None

    def encode(self, value):
        return wire.encode(value, self._handle)

    def decode(self, tree):
        return wire.decode(tree, self._object)

    def answer(self, request):
        """The answer to one request (JSON text): :meth:`serve`'s, with ``printed``, what the
        request's code printed (stdout and stderr, in order; the grader shows it as the call's
        output, in order with the check's own), and ``took``, where the kernel's time went
        (seconds: ``restore``, ``call`` of the student's function as observed, the whole
        ``serve``; read by bench.grading_profile only)."""
        start = _clock()
        self.took = {}
        self.printed = _Printed(self.guard.sys["stdout"])
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self.printed
        try:
            answer = self.serve(request)
        finally:
            sys.stdout, sys.stderr = saved
        if not isinstance(answer, dict):
            answer = {"error": {"ename": "ProtocolError", "evalue": "no answer", "frames": []}}
        if self.printed.parts:
            answer["printed"] = "".join(self.printed.parts)
        answer["took"] = {**self.took, "serve": _clock() - start}
        return answer

    def session(self):
        """Answer requests until the grader ends the session: the requests of one test cell.

        Opened by the execute request :data:`SESSION` (the handles are reset, as ``reset`` does);
        each answer goes to the grader as the prompt of an input request (:data:`SESSION_MARK`)
        whose reply is the next request, so a request costs two messages on the stdin channel
        instead of an execute request with its status messages. Ends on :data:`SESSION_END`, or
        when the grader interrupts the kernel while it waits; the execute reply then follows.
        """
        import json

        self.handles.clear()
        answer = {"ok": 1}
        while True:
            try:
                request = self.ask(SESSION_MARK + json.dumps(answer))
                if request == SESSION_END:
                    return {"ok": 1}
                answer = self.answer(request)
            except BaseException:  # noqa: BLE001 (the grader's interrupt, EOF: the session is over)
                return {"ended": 1}

    def ask(self, prompt):
        """The grader's reply to an input request with ``prompt`` (stdin channel).

        ipykernel's raw_input, without its flush of sys.stdout and sys.stderr (two waits for the
        kernel's iopub thread per request: what the requests print comes in their answers).
        """
        import zmq

        kernel = self.kernel
        socket, session = kernel.stdin_socket, kernel.session
        while True:  # stale replies
            try:
                socket.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:
                break
        session.send(socket, "input_request", {"prompt": prompt, "password": False},
                     kernel.get_parent("shell"), ident=kernel._parent_ident["shell"])
        poller = zmq.Poller()
        poller.register(socket, zmq.POLLIN)
        while True:
            if poller.poll(50):  # a short wait, so that an interrupt gets through
                _, reply = session.recv(socket)
                if reply is not None:
                    break
        value = reply["content"]["value"] if isinstance(reply.get("content"), dict) else ""
        if value == "\x04" or not isinstance(value, str):
            raise EOFError
        return value

    def serve(self, request):
        """The answer (a dict) to one request (JSON text)."""
        import json

        try:
            request = json.loads(request)
            op = request["op"]
            if op == "reset":
                self.handles.clear()
                return {"ok": 1}
            if op == "lookup":
                namespace = self.kernel.shell.user_ns
                name = request["name"]
                if name not in namespace:
                    return {"missing": 1}
                value = namespace[name]
                if isinstance(value, types.ModuleType):
                    return {"module": _text(value.__name__, 200)}
                return {"value": self.encode(value)}
            if op == "getattr":
                return {"value": self.encode(getattr(self._object(request["of"]), str(request["name"])))}
            if op == "call":
                return self._call(request)
            if op == "call_many":
                return self._call_many(request)
            if op == "experiment":
                return self._experiment(request)
            return {"error": {"ename": "ProtocolError", "evalue": f"unknown request {op!r:.40}", "frames": []}}
        except wire.WireError as exc:
            return {"error": {"ename": "WireError", "evalue": str(exc), "frames": []}}
        except BaseException as exc:  # noqa: BLE001 (a student's object raised: that is the answer)
            return self._raised(exc)

    @contextlib.contextmanager
    def _from_start(self):
        """Run the body from the kernel's restored start-up state (:meth:`Guard.restore`, timed in
        ``took``); afterwards IPython's transformer lists and events are put back as they were."""
        hooks = [(lst, list(lst)) for lst, _ in self.guard.lists]
        events = {k: list(v) for k, v in self.kernel.shell.events.callbacks.items()}
        try:
            start = _clock()
            self.guard.restore()
            if self.printed is not None:  # restore() put back the kernel's own streams
                sys.stdout = sys.stderr = self.printed
            self.took["restore"] = self.took.get("restore", 0.0) + _clock() - start
            yield
        finally:
            for stream in (self.guard.sys["stdout"], self.guard.sys["stderr"]) if self.printed is None else ():
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001
                    pass
            for lst, saved in hooks:
                lst[:] = saved
            self.kernel.shell.events.callbacks.clear()
            self.kernel.shell.events.callbacks.update(events)

    def _call(self, request):
        fn = self.decode(request["fn"])
        args = [self.decode(a) for a in request["args"]]
        kwargs = {str(k): self.decode(v) for k, v in request.get("kwargs", [])}
        observe = request.get("observe")
        took = self.took  # seconds of the restores and of the calls (bench.grading_profile)
        try:
            with self._from_start():
                after = _clock()
                if observe is None:
                    value = fn(*args, **kwargs)
                    took["call"] = took.get("call", 0.0) + _clock() - after
                    return {"value": self.encode(value)}
                from rnn_course import judge

                own = observe.get("own_implementation", True)
                observe["own_implementation"] = tuple(own) if isinstance(own, list) else own
                call = judge.call_student(fn, *args, **observe)
                took["call"] = took.get("call", 0.0) + _clock() - after
                return {"call": {"value": self.encode(call.value),
                                 "warned": [[_text(w.category.__name__, 100), _text(w.message, 2000)]
                                            for w in call.warned],
                                 "mutated": self.encode(list(getattr(call, "mutated", []))),
                                 "aliased": self.encode(list(getattr(call, "aliased", [])))}}
        except BaseException as exc:  # noqa: BLE001
            return self._raised(exc)

    def _experiment(self, request):
        """Run an experiment of rnn_course (rnn_course.experiment) on the student's objects: a
        function of a module of :data:`EXPERIMENT_MODULES` listed in its ``EXPERIMENTS``, loaded at
        start-up (so restored with the rest), from the restored state. Its result crosses as data
        only: an exception in it as what :meth:`_raised` says of it, any other object as its type's
        name and ``repr`` (``other``), never as a handle."""
        module, name = str(request.get("module")), str(request.get("name"))
        if module not in EXPERIMENT_MODULES or module not in self.guard.modules:
            return {"error": {"ename": "ProtocolError", "evalue": f"no experiments in {module:.80}", "frames": []}}
        functions = [self.decode(f) for f in request["functions"]]
        data = self.decode(request["data"])
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise wire.WireError("an experiment's data that is not a dict of names")
        try:
            with self._from_start():
                run = getattr(self.guard.modules[module], "EXPERIMENTS", {}).get(name)
                if not callable(run):
                    return {"error": {"ename": "ProtocolError", "evalue": f"no experiment {name:.80}", "frames": []}}
                after = _clock()
                result = run(*functions, **data)
                self.took["call"] = self.took.get("call", 0.0) + _clock() - after
                return {"result": wire.encode(result, self._outcome)}
        except BaseException as exc:  # noqa: BLE001
            return self._raised(exc)

    def _outcome(self, value):
        """What is not data in an experiment's result: an exception, or an object of the student's."""
        if isinstance(value, BaseException):
            return {"h": 0, "owner": "kernel", "raised": self._raised(value)}
        try:
            text = repr(value)
        except BaseException:  # noqa: BLE001 (a student's object whose __repr__ fails)
            text = "(an object that cannot be shown)"
        return {"h": 0, "owner": "kernel", "other": _text(type(value).__name__, 100), "repr": _text(text, 200)}

    def _call_many(self, request):
        """``call_many``: the observed calls of ``fn`` with each argument list of ``calls``, each
        from the restored start-up state, as :meth:`_call`; their answers in order."""
        calls = request["calls"]
        if not isinstance(calls, list) or len(calls) > 10_000:
            raise wire.WireError("calls that are not a list")
        observe = request.get("observe")
        return {"calls": [self._call({"fn": request["fn"], "args": args,
                                      "observe": dict(observe) if isinstance(observe, dict) else None})
                          for args in calls]}

    def _raised(self, exc):
        checked = type(exc).__name__ if type(exc).__name__ in ("CheckFailed", "ForbiddenShortcut") \
            and isinstance(exc, AssertionError) else None
        if checked:
            return {"raise": checked, "message": _text(exc)}
        return {"error": {"ename": _text(type(exc).__name__, 200), "evalue": _text(exc),
                          "frames": _frames(exc)}}

    def callback(self, spec, args, kwargs):
        """Call the grader's function ``spec`` (a handle of the grader's) with ``args``: through stdin."""
        import json

        prompt = CALLBACK_MARK + json.dumps({"h": spec, "args": [self.encode(a) for a in args],
                                             "kwargs": [[k, self.encode(v)] for k, v in kwargs.items()]})
        answer = json.loads(self.ask(prompt))
        if "value" in answer:
            return self.decode(answer["value"])
        if "raise" in answer:
            from rnn_course.judge import CheckFailed

            raise CheckFailed(_text(answer.get("message", "")))
        kind = getattr(builtins, str(answer.get("ename")), None)  # a ValueError stays one (a shape hint)
        kind = kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError
        raise kind(_text(answer.get("error", "the function given to your code failed")))


class _Printed:
    """sys.stdout and sys.stderr while the kernel answers a request: the text, up to
    :data:`PRINTED_LIMIT` characters; anything else (``fileno``...) is the kernel's own stream's."""

    def __init__(self, stream):
        self.parts, self.size, self._stream = [], 0, stream

    def write(self, text):
        text = text if type(text) is str else str(text)
        if self.size < PRINTED_LIMIT:
            self.parts.append(text[:PRINTED_LIMIT - self.size])
            self.size += len(self.parts[-1])
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def isatty(self):
        return False

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _GraderFunction:
    """A function of the grader's (check-defined, e.g. an ``R`` for ``unroll``), called through stdin."""

    def __init__(self, server, spec):
        self.server, self.id = server, spec["h"]
        self.__name__ = self.__qualname__ = str(spec.get("name") or "f")

    def __call__(self, *args, **kwargs):
        return self.server.callback(self.id, args, kwargs)

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __repr__(self):
        return f"<function {self.__name__}>"


class GradingKernel(IPythonKernel):
    """IPythonKernel that answers the grader's requests (:data:`CALL_MARK`) through :class:`Server`."""

    implementation = "rnn-grader"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._guard = Guard(self.shell)
        self._server = Server(self, self._guard)

    async def do_execute(self, code, silent, store_history=True, user_expressions=None,
                         allow_stdin=False, *, cell_meta=None, cell_id=None):
        if code.startswith(CALL_MARK):
            self._allow_stdin = allow_stdin
            request = code[len(CALL_MARK):]
            answer = self._server.session() if request == SESSION else self._server.answer(request)
            return {"status": "ok", "execution_count": self.shell.execution_count, "user_expressions": {},
                    "payload": [], "autograder": answer}
        return await super().do_execute(code, silent, store_history, user_expressions, allow_stdin,
                                        cell_meta=cell_meta, cell_id=cell_id)


def main():
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=GradingKernel)


if __name__ == "__main__":
    main()
