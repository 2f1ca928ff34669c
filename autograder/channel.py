"""Test cells run in the grader's own process; the student's functions are called in the kernel.

:func:`run_test_cell` executes a test cell's code here, in the grader's worker (outside the
sandbox), in a namespace where each name the cell takes from the notebook (``elman_forward``)
is looked up in the student's kernel. A function, or any object that is not plain data, comes
back as a proxy (:class:`Remote`); calling it sends the call through a :class:`Channel`, and the
kernel's :class:`autograder.kernel.Server` calls the student's object there and sends back the
result. While the cell runs, ``rnn_course.judge.call_student`` hands its calls to
:meth:`Channel.call_student`: the observation of a call (copies of the inputs, warnings, inputs
changed in place, outputs aliasing inputs, the forbidden-shortcut profiler) happens in the kernel,
next to the student's function; everything else of the check (its inputs, the reference answers,
the comparison, the verdict) stays here. The hidden tests' code never reaches the kernel.

The channel speaks the kernel's own Jupyter protocol on sockets of its own (so any kernel start
works). A test cell's first request opens a session: an ``execute_request`` marked
:data:`autograder.kernel.CALL_MARK` (:data:`autograder.kernel.SESSION`) that the kernel answers
with an ``input_request`` whose prompt (:data:`autograder.kernel.SESSION_MARK`) carries its
answer; the grader's ``input_reply`` is the next request, and so on, until the cell ends the
session and the execute reply comes (a request costs two messages, not an execute request with
its status messages). What a request's code prints comes in its answer, in order with the
check's own prints. A request may also be an execute request of its own (``sessions=False``; its
answer the reply's ``autograder`` field). A function of the check's that the student's code calls
(an ``R`` given to ``unroll``) comes back as an ``input_request`` marked
:data:`autograder.kernel.CALLBACK_MARK` and is answered with the result. Calls that do not depend
on one another (rnn_course.judge.call_student_many) go as one request. Values cross as
:mod:`autograder.wire` data, never as pickles, with size limits (:data:`MAX_MESSAGE` bytes per
message, enforced by the socket). A reply that is garbage, too large, or that does not come
within the call's or the cell's time limit fails that test alone, with a reason; the next test runs.
"""

import builtins
import contextlib
import io
import json
import time
import uuid

import zmq
from jupyter_client.session import Session

from . import wire
from .kernel import CALL_MARK, CALLBACK_MARK, SESSION_END, SESSION_MARK, failure_text

MAX_MESSAGE = 16 * 2**20  # bytes of one message from the kernel (the socket drops larger ones)
QUEUE = 32  # messages a socket holds unread: with MAX_MESSAGE, at most 512 MB of the grader's memory
MAX_OUTPUT = 200_000  # characters a test cell's streams keep (outputcap cuts further)
MODULES = ("numpy", "math", "torch")  # modules a test cell may take from the notebook by name


class ChannelError(Exception):
    """The kernel did not answer a request properly: the test scores 0 with this message."""


class KernelDied(ChannelError):
    """The kernel is gone."""


class StudentError(Exception):
    """An exception raised by the student's code in the kernel: its name, message and own frames."""

    def __init__(self, ename, evalue, frames):
        super().__init__(evalue)
        self.ename, self.evalue, self.frames = ename, evalue, frames


class Remote:
    """An object that stays in the student's kernel (a cache, a model), known here by a handle."""

    def __init__(self, channel, spec):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_spec", spec)
        if isinstance(spec.get("name"), str):
            object.__setattr__(self, "__name__", spec["name"])

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._channel.request({"op": "getattr", "of": self._spec, "name": name})

    def __setattr__(self, name, value):
        raise AttributeError("objects of the student's kernel are read-only here")

    def __deepcopy__(self, memo):
        return self  # a reference: the kernel copies the object itself before a call

    def __copy__(self):
        return self

    def __repr__(self):
        return f"<{self._spec.get('type', 'object')} of the student's notebook>"


class RemoteFunction(Remote):
    """A function (or other callable) of the student's kernel: calling it calls it there."""

    def __call__(self, *args, **kwargs):
        return self._channel.call(self, args, kwargs)


_TYPES = {}


def _remote_class(spec):
    """A class named as the remote type (so a message can say 'it is a dict'), callable or not."""
    base = RemoteFunction if spec.get("call") is True else Remote
    name = str(spec.get("type") or "object")[:100]
    if len(_TYPES) > 500:  # a kernel that makes up names does not grow this table
        name = "object"
    if (name, base) not in _TYPES:
        _TYPES[name, base] = type(name if name.isidentifier() else "object", (base,), {})
    return _TYPES[name, base]


class _Warned:
    """A warning the student's code raised in the kernel (as warnings.catch_warnings records it)."""

    def __init__(self, category, message):
        found = getattr(builtins, str(category), None)
        self.category = found if isinstance(found, type) and issubclass(found, Warning) else \
            type(str(category) if str(category).isidentifier() else "Warning", (Warning,), {})
        self.message = str(message)


class Channel:
    """Requests to one kernel's :class:`autograder.kernel.Server` (see the module docstring).

    connection: the kernel's connection info (jupyter_client's ``get_connection_info()``);
    alive: a function that says whether the kernel's process still runs.
    """

    def __init__(self, connection, alive=lambda: True, call_timeout=60.0, sessions=True):
        self.alive, self.call_timeout, self.cell_timeout = alive, call_timeout, call_timeout
        self.sessions = sessions  # a test cell's requests in one session (False: an execute request each)
        self.serving = None  # msg_id of the open session's execute request
        self.prompt = None  # header of the kernel's input request that waits for the next request
        key = connection["key"]
        self.session = Session(key=key if isinstance(key, bytes) else key.encode(),
                               signature_scheme=connection.get("signature_scheme", "hmac-sha256"))
        self.connection = connection
        self.context = None
        self.outputs = []  # [name, text] of the streams the kernel published for our requests
        self.callbacks = {}  # id -> a function of the grader's that the kernel may call
        self.deadline = None  # the running cell's

    def _connect(self):
        """Fresh sockets (and a fresh identity): at the start, and after a request that failed,
        whose socket may have been dropped by the size limit or hold a late answer."""
        if self.context is not None:
            self.context.destroy(linger=0)
        connection = self.connection
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        self.context.setsockopt(zmq.LINGER, 0)
        self.context.setsockopt(zmq.SNDTIMEO, 5000)  # a send never blocks the grader for long
        self.context.setsockopt(zmq.RCVHWM, QUEUE)
        identity = uuid.uuid4().hex.encode()

        def url(port):
            if connection.get("transport", "tcp") == "tcp":
                return f"tcp://{connection['ip']}:{connection[port]}"
            return f"{connection['transport']}://{connection['ip']}-{connection[port]}"

        self.shell = self.context.socket(zmq.DEALER)
        self.stdin = self.context.socket(zmq.DEALER)
        self.control = self.context.socket(zmq.DEALER)
        for socket in (self.shell, self.stdin):
            socket.setsockopt(zmq.IDENTITY, identity)
        self.iopub = self.context.socket(zmq.SUB)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.shell.connect(url("shell_port"))
        self.stdin.connect(url("stdin_port"))
        self.control.connect(url("control_port"))
        self.iopub.connect(url("iopub_port"))
        self.poller = zmq.Poller()
        for socket in (self.shell, self.stdin, self.iopub):
            self.poller.register(socket, zmq.POLLIN)
        self._subscribed = False

    def open(self):
        """Before a test cell: connect (the first time), or drop what the student's cells published
        meanwhile (at most :data:`QUEUE` messages wait here; the socket drops the rest)."""
        if self.context is None:
            self._connect()
            return
        self.pause()

    def pause(self):
        """After a test cell: drop what came and was not read."""
        if self.context is None:
            return
        for socket in (self.iopub, self.shell, self.stdin):
            while True:
                try:
                    socket.recv_multipart(zmq.NOBLOCK)
                except zmq.ZMQError:
                    break

    def close(self):
        if self.context is not None:
            self.context.destroy(linger=0)
            self.context = None

    # --- values ---------------------------------------------------------------------------------

    def _handle(self, value):
        """Encode a value of the grader's that is not data: a proxy goes back as its handle, a
        function of the check's as a callback the kernel calls through stdin."""
        if isinstance(value, Remote):
            return value._spec
        if callable(value):
            key = len(self.callbacks) + 1
            self.callbacks[key] = value
            name = getattr(value, "__name__", None)
            return {"h": key, "owner": "grader", "name": name if isinstance(name, str) else "f", "call": True}
        raise TypeError(f"the grader cannot send a {type(value).__name__} to the kernel")

    def _object(self, spec):
        if spec.get("owner") == "grader":
            try:
                return self.callbacks[spec["h"]]
            except (KeyError, TypeError):
                raise wire.WireError("an unknown function of the grader's") from None
        if spec.get("owner") != "kernel" or type(spec.get("h")) is not int:
            raise wire.WireError("a handle that is not the kernel's")
        spec = {"h": spec["h"], "owner": "kernel", "type": str(spec.get("type"))[:100],
                "name": spec["name"][:100] if isinstance(spec.get("name"), str) else None,
                "call": spec.get("call") is True}
        return _remote_class(spec)(self, spec)

    def encode(self, value):
        return wire.encode(value, self._handle)

    def decode(self, tree):
        try:
            return wire.decode(tree, self._object)
        except wire.WireError as exc:
            raise ChannelError(f"the kernel sent a value the grader does not read ({exc})") from None

    # --- requests -------------------------------------------------------------------------------

    def lookup(self, name):
        """The notebook's ``name``: data, a proxy, an allowed module, or KeyError."""
        answer = self._send({"op": "lookup", "name": name})
        if "missing" in answer:
            raise KeyError(name)
        if "module" in answer:
            if answer["module"] in MODULES:
                return __import__(answer["module"])
            raise KeyError(name)
        return self._value(answer)

    def request(self, request):
        return self._value(self._send(request))

    def call(self, fn, args, kwargs):
        """``fn(*args, **kwargs)`` in the kernel (no observation): its value, or the student's error."""
        return self.request({"op": "call", "fn": self.encode(fn), "args": [self.encode(a) for a in args],
                             "kwargs": [[str(k), self.encode(v)] for k, v in kwargs.items()]})

    def call_student(self, fn, args, options):
        """rnn_course.judge.call_student done in the kernel, as a judge.Call; None when no object
        of the kernel is involved (the call stays here)."""
        if not isinstance(fn, Remote) and not (wire.public_name(fn) and _has_remote(args)):
            return None
        from rnn_course import judge

        own = options.get("own_implementation", True)
        options = {**options, "own_implementation": list(own) if isinstance(own, tuple) else own}
        answer = self._send({"op": "call", "fn": self.encode(fn), "args": [self.encode(a) for a in args],
                             "observe": options})
        return self._call_of(answer)

    def call_student_many(self, fn, calls, options):
        """rnn_course.judge.call_student_many done in the kernel, in one request: a list of
        judge.Call or the exception of each call; None when ``fn`` is not the kernel's."""
        if not isinstance(fn, Remote) or not calls:
            return None
        from rnn_course import judge

        own = options.get("own_implementation", True)
        options = {**options, "own_implementation": list(own) if isinstance(own, tuple) else own}
        call_timeout = self.call_timeout
        self.call_timeout = call_timeout * len(calls)  # each call has its limit; the cell's still holds
        try:
            answer = self._send({"op": "call_many", "fn": self.encode(fn), "observe": options,
                                 "calls": [[self.encode(a) for a in args] for args in calls]})
        finally:
            self.call_timeout = call_timeout
        items = answer.get("calls")
        if not isinstance(items, list) or len(items) != len(calls):
            self._value(answer)  # raises what the kernel reported
            raise ChannelError("the kernel's answer to the calls is not readable")
        results = []
        for item in items:
            try:
                results.append(self._call_of(item if isinstance(item, dict) else {}))
            except (judge.CheckFailed, StudentError, ChannelError) as exc:
                results.append(exc)
        return results

    def _call_of(self, answer):
        """The judge.Call in the answer to an observed call (or what the kernel reported, raised)."""
        from rnn_course import judge

        if "call" not in answer:
            self._value(answer)  # raises what the kernel reported
            raise ChannelError("the kernel's answer to a call has no result")
        body = answer["call"]
        if not isinstance(body, dict):
            raise ChannelError("the kernel's answer to a call is not readable")
        call = judge.Call.__new__(judge.Call)
        call.value = self.decode(body.get("value"))
        warned = body.get("warned")
        call.warned = [_Warned(*w) for w in warned if isinstance(w, list) and len(w) == 2] \
            if isinstance(warned, list) else []
        call.mutated = _pairs(self.decode(body.get("mutated", {"l": []})))
        call.aliased = _pairs(self.decode(body.get("aliased", {"l": []})))
        return call

    def _value(self, answer):
        if "value" in answer:
            return self.decode(answer["value"])
        if "raise" in answer:
            from rnn_course import judge

            kind = judge.ForbiddenShortcut if answer["raise"] == "ForbiddenShortcut" else judge.CheckFailed
            raise kind(str(answer.get("message", ""))[:20_000])
        error = answer.get("error")
        if isinstance(error, dict):
            frames = error.get("frames")
            frames = [str(f)[:300] for f in frames[-5:]] if isinstance(frames, list) else []
            raise StudentError(str(error.get("ename", "Error"))[:200], str(error.get("evalue", ""))[:20_000], frames)
        raise ChannelError("the kernel's answer is not readable")

    def _send(self, request):
        """Send one request; the answer dict (streams and callbacks handled while waiting).

        With :attr:`sessions`, the first request of a test cell opens a session (one execute
        request, :meth:`autograder.kernel.Server.session`) and every request goes through the
        stdin channel as the reply to the kernel's last answer; :meth:`end` closes it. A request
        that fails ends the session (the kernel is interrupted if it is still busy) before the
        sockets are made anew.
        """
        try:
            self._subscribe()
            if not self.sessions:
                return self._exchange(request)
            if self.serving is None:
                self._open_session()
            return self._exchange_in_session(request)
        except zmq.ZMQError as exc:
            self._abandon()
            self._connect()
            raise ChannelError(f"the kernel cannot be reached ({exc})") from None
        except ChannelError:
            self._abandon()
            self._connect()
            raise

    def _deadline(self):
        """(deadline of a request, its own limit): the call's time limit, or the cell's if sooner."""
        limit = time.monotonic() + self.call_timeout
        return (min(limit, self.deadline) if self.deadline else limit), limit

    def _late(self, deadline, limit):
        seconds = self.call_timeout if deadline == limit else self.cell_timeout
        return ChannelError(f"no answer from the notebook's code within the test's time limit ({seconds:.0f} s): "
                            f"the call was stopped (it ran too long, or its result was over "
                            f"{MAX_MESSAGE // 2**20} MB)")

    def _open_session(self):
        deadline, limit = self._deadline()
        self.serving = self.session.send(self.shell, "execute_request", _content({"op": "session"}))["header"]["msg_id"]
        answer = self._next_answer(deadline)
        if answer is None:
            raise self._late(deadline, limit)
        if answer.get("ok") != 1:
            raise ChannelError("the kernel's reply is not an answer of the grading kernel")

    def _exchange_in_session(self, request):
        deadline, limit = self._deadline()
        self._reply(json.dumps(request))
        answer = self._next_answer(deadline)
        if answer is None:
            raise self._late(deadline, limit)  # _send interrupts the call and ends the session
        return answer

    def _reply(self, value):
        """Answer the kernel's waiting input request (the session's) with ``value``."""
        header, self.prompt = self.prompt, None
        self.session.send(self.stdin, "input_reply", {"value": value}, parent=header)

    def _next_answer(self, deadline):
        """The session's next answer (None if none came before ``deadline``); streams and callbacks
        are handled while waiting. ChannelError if the session ended instead."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self.alive():
                raise KernelDied("the kernel died")
            events = dict(self.poller.poll(min(left, 0.2) * 1000))
            if self.iopub in events:
                msg = self._recv(self.iopub)
                if msg and msg["parent_header"].get("msg_id") == self.serving and msg["msg_type"] == "stream":
                    self._stream(msg["content"])
            if self.stdin in events:
                msg = self._recv(self.stdin)
                if msg and msg["msg_type"] == "input_request":
                    answer = self._session_answer(msg)
                    if answer is not None:
                        return answer
                    self._callback(msg)
            if self.shell in events:
                msg = self._recv(self.shell)
                if msg and msg["parent_header"].get("msg_id") == self.serving and msg["msg_type"] == "execute_reply":
                    self.serving = self.prompt = None
                    raise ChannelError("the kernel stopped answering the grader's requests")

    def _session_answer(self, msg):
        """The answer in an input request of the session (its output taken), or None for another
        input request (a callback, or the student's own ``input()``)."""
        prompt = msg["content"].get("prompt") if isinstance(msg["content"], dict) else None
        if not isinstance(prompt, str) or not prompt.startswith(SESSION_MARK):
            return None
        self.prompt = msg["header"]
        try:
            answer = json.loads(prompt[len(SESSION_MARK):])
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ChannelError("the kernel's reply is not an answer of the grading kernel")
        self._printed(answer)
        return answer

    def _printed(self, answer):
        if isinstance(answer.get("printed"), str):
            self._stream({"text": answer["printed"]})

    def end(self):
        """After a test cell: close its session, so that the kernel runs the notebook's next cells."""
        if self.serving is None:
            return
        try:
            if self.prompt is not None:
                msg_id = self.serving
                self._reply(SESSION_END)  # what the requests printed came in their answers: no wait for idle
                if self._wait(msg_id, time.monotonic() + 5, idle_too=False)[0] is not None:
                    self.serving = None
                    return
            self._abandon()
            self._connect()
        except (ChannelError, zmq.ZMQError):
            self._abandon()
            self._connect()

    def _abandon(self):
        """End a session the grader gives up on (a time limit, an answer it cannot read): the
        kernel is interrupted if it is busy, its late answer is taken for its output, and the
        execute reply awaited (5 s at most), so that it does not wait for requests that never come."""
        msg_id, self.serving = self.serving, None
        if msg_id is None or self.context is None:
            self.prompt = None
            return
        try:
            if self.prompt is not None:
                self._reply(SESSION_END)
            else:
                self.session.send(self.control, "interrupt_request", {})
            until = time.monotonic() + 5
            while time.monotonic() < until and self.alive():
                events = dict(self.poller.poll(200))
                if self.iopub in events:
                    msg = self._recv(self.iopub)
                    if msg and msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                        self._stream(msg["content"])
                if self.stdin in events:
                    msg = self._recv(self.stdin)
                    if msg and msg["msg_type"] == "input_request":
                        try:
                            last = self._session_answer(msg) is not None
                        except ChannelError:
                            last = True
                        self.session.send(self.stdin, "input_reply", {"value": SESSION_END if last else "\x04"},
                                          parent=msg["header"])
                if self.shell in events:
                    msg = self._recv(self.shell)
                    if msg and msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_reply":
                        break
        except zmq.ZMQError:
            pass
        finally:
            self.prompt = None

    def _subscribe(self):
        """Wait until iopub delivers (a SUB socket misses what is published before it joins)."""
        if self._subscribed:
            return
        until = time.monotonic() + 10
        while time.monotonic() < until:
            msg_id = self.session.send(self.shell, "execute_request", _content({"op": "reset"}))["header"]["msg_id"]
            if self._wait(msg_id, time.monotonic() + 0.25, quiet=True)[1]:
                self._subscribed = True
                return
        raise ChannelError("the kernel did not answer the grader")

    def _exchange(self, request):
        """One request as an execute request of its own (without :attr:`sessions`)."""
        deadline, limit = self._deadline()
        msg_id = self.session.send(self.shell, "execute_request", _content(request))["header"]["msg_id"]
        answer = self._wait(msg_id, deadline)[0]
        if answer is None:
            self.session.send(self.control, "interrupt_request", {})
            self._wait(msg_id, time.monotonic() + 5)  # the interrupted call's streams
            raise self._late(deadline, limit)
        return answer

    def _wait(self, msg_id, deadline, quiet=False, idle_too=True):
        """(answer, idle): the answer to request ``msg_id`` (None if none came before ``deadline``)
        and whether the kernel then went idle (its streams for the request all arrived); without
        ``idle_too``, the answer alone is awaited."""
        answer, idle = None, not idle_too
        while answer is None or not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not self.alive():
                raise KernelDied("the kernel died")
            events = dict(self.poller.poll(min(left, 0.2) * 1000))
            if self.iopub in events:
                msg = self._recv(self.iopub)
                if msg and msg["parent_header"].get("msg_id") == msg_id:
                    if msg["msg_type"] == "stream" and not quiet:
                        self._stream(msg["content"])
                    elif msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                        idle = True
            if self.stdin in events:
                msg = self._recv(self.stdin)
                if msg and msg["msg_type"] == "input_request":
                    self._callback(msg)
            if self.shell in events:
                msg = self._recv(self.shell)
                if msg and msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_reply":
                    content = msg["content"]
                    answer = content.get("autograder") if isinstance(content, dict) else None
                    if not isinstance(answer, dict):
                        raise ChannelError("the kernel's reply is not an answer of the grading kernel")
                    if not quiet:
                        self._printed(answer)
                    deadline = min(deadline, time.monotonic() + 2)  # then its streams, and idle
        return answer, idle

    def _recv(self, socket):
        try:
            _, msg = self.session.recv(socket, mode=zmq.NOBLOCK)
        except Exception:  # noqa: BLE001 (garbage from the kernel: ignored, the wait times out)
            return None
        if not isinstance(msg, dict) or not isinstance(msg.get("parent_header"), dict):
            return None
        return msg

    def _stream(self, content):
        if not isinstance(content, dict) or not isinstance(content.get("text"), str):
            return
        used = sum(len(t) for _, t in self.outputs)
        if used < MAX_OUTPUT:
            self.outputs.append(["stdout", content["text"][:MAX_OUTPUT - used]])

    def _callback(self, msg):
        prompt = msg["content"].get("prompt") if isinstance(msg["content"], dict) else None
        if not isinstance(prompt, str) or not prompt.startswith(CALLBACK_MARK):
            self.session.send(self.stdin, "input_reply", {"value": "\x04"}, parent=msg["header"])  # EOF
            return
        from rnn_course import judge

        try:
            request = json.loads(prompt[len(CALLBACK_MARK):])
            fn = self.callbacks[request["h"]]
            args = [self.decode(a) for a in request["args"]]
            kwargs = {str(k): self.decode(v) for k, v in request.get("kwargs", [])}
            reply = {"value": self.encode(fn(*args, **kwargs))}
        except judge.CheckFailed as exc:
            reply = {"raise": "CheckFailed", "message": str(exc)}
        except Exception as exc:  # noqa: BLE001 (the kernel asked for something the function refuses)
            reply = {"error": str(exc)[:2000], "ename": type(exc).__name__}
        self.session.send(self.stdin, "input_reply", {"value": json.dumps(reply)}, parent=msg["header"])


def _content(request):
    return {"code": CALL_MARK + json.dumps(request), "silent": True, "store_history": False,
            "user_expressions": {}, "allow_stdin": True, "stop_on_error": False}


def _has_remote(value, depth=0):
    if isinstance(value, Remote):
        return True
    if depth < 5 and isinstance(value, (list, tuple)):
        return any(_has_remote(v, depth + 1) for v in value)
    if depth < 5 and isinstance(value, dict):
        return any(_has_remote(v, depth + 1) for v in value.values())
    return False


def _pairs(value):
    if not isinstance(value, list):
        return []
    return [tuple(str(x)[:500] for x in p) for p in value if isinstance(p, (list, tuple)) and len(p) == 2]


class _Names(dict):
    """The test cell's namespace: its own names, then the notebook's (looked up in the kernel)."""

    def __init__(self, channel):
        super().__init__()
        self.channel = channel

    def __missing__(self, name):
        if hasattr(builtins, name) or name.startswith("__"):
            raise KeyError(name)
        value = self.channel.lookup(name)  # KeyError when the notebook has no such name
        self[name] = value
        return value


class _Printed(io.TextIOBase):
    """The check's own prints, in order with the kernel's streams."""

    def __init__(self, channel):
        self.channel = channel

    def writable(self):
        return True

    def write(self, text):
        self.channel._stream({"text": str(text)})
        return len(text)


def run_test_cell(source, channel, timeout):
    """Run a test cell's ``source`` here against the kernel behind ``channel``.

    Returns (outputs, content): the cell's stream outputs (``[name, text]``) and an execute
    reply's content: ``status`` "ok", or "error" with the failure's name, message and traceback
    (the student's own frames for an error raised in the student's code, never the grader's).
    """
    from rnn_course import judge, replay

    if replay.shared is None:
        replay.shared = {}  # this process runs no student code: the stored data is read once
    channel.outputs = []
    channel.callbacks = {}
    channel.deadline = time.monotonic() + timeout if timeout else None
    channel.cell_timeout = timeout or channel.call_timeout
    content = {"status": "ok"}
    names = _Names(channel)
    channel.open()
    try:
        if not channel.sessions:
            channel._send({"op": "reset"})  # a session resets the handles when it opens
        code = compile(source, "<test cell>", "exec", dont_inherit=True)
        with contextlib.redirect_stdout(_Printed(channel)):
            judge._call_elsewhere, judge._call_many_elsewhere = channel.call_student, channel.call_student_many
            try:
                exec(code, {"__builtins__": builtins, "__name__": "__main__"}, names)
            finally:
                judge._call_elsewhere = judge._call_many_elsewhere = None
    except KernelDied:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure is the test's verdict; the grader's own
        content = _failure(exc)  # BaseExceptions, e.g. the submission's time limit, go through)
    finally:
        channel.deadline = None
        channel.end()
        channel.pause()
    return channel.outputs, content


def _failure(exc):
    """The reply content of a failed test; only the student's own frames are shown."""
    if isinstance(exc, StudentError):
        name, message, frames = exc.ename, exc.evalue, exc.frames
    elif isinstance(exc, ChannelError):
        name, message, frames = "GradingError", f"{exc}; this test scores 0.", []
    else:
        name, message, frames = type(exc).__name__, str(exc), []
    return {"status": "error", "ename": name, "evalue": message,
            "traceback": [failure_text(name, message, [] if isinstance(exc, AssertionError) else frames)]}
