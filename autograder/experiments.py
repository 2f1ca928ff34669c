"""The grader's end of rnn_course's experiments: run in the student's kernel, read back as data.

A judge of the course that needs the student's objects to live somewhere (a7's: a torch model
trained in place) asks for an *experiment* (:mod:`rnn_course.experiment`): course code that
builds them from the test's inputs, calls the student's functions and returns what it observed.
While a test cell runs here (autograder.execution), :func:`installed` routes those requests to the
kernel's Server (``op`` "experiment", autograder.kernel), which runs the experiment from its
restored start-up state and sends back its result as autograder.wire data only. The verdict,
every comparison with an expected value and every message, stays here; no expected value goes
to the kernel.

In the result, an exception of the student's code (or a check's message) comes back as the
exception the channel raises for it (autograder.channel.StudentError, rnn_course's CheckFailed),
and any other object that is not data as :class:`Other`: its type's name and ``repr``, nothing
that can be called or followed back into the kernel.
"""

import contextlib

from . import wire
from .channel import ChannelError, Remote


class Other:
    """An object of the student's kernel that is not data: ``type(x).__name__`` and ``repr(x)`` are
    those of the kernel's object (see :func:`_other`); it has no other behaviour."""

    __slots__ = ("_repr",)

    def __init__(self, text):
        self._repr = text

    def __repr__(self):
        return self._repr


_OTHERS = {}


def _other(name, text):
    """An :class:`Other` whose class is named like the kernel's type (so a message can say 'a list')."""
    name = name if isinstance(name, str) and name.isidentifier() else "object"
    if len(_OTHERS) > 500:  # a kernel that makes up names does not grow this table
        name = "object"
    if name not in _OTHERS:
        _OTHERS[name] = type(name, (Other,), {"__slots__": ()})
    return _OTHERS[name](str(text)[:200])


class Experiments:
    """rnn_course.experiment's ``_elsewhere`` for one kernel behind ``channel`` (a Channel)."""

    def __init__(self, channel):
        self.channel = channel

    def __call__(self, module, name, functions, data):
        if not any(isinstance(f, Remote) for f in functions):
            return None  # nothing of the kernel's: the experiment runs here
        channel = self.channel
        answer = channel._send({"op": "experiment", "module": module, "name": name,
                                "functions": [channel.encode(f) for f in functions],
                                "data": channel.encode(data)})
        if "result" not in answer:
            channel._value(answer)  # raises what the kernel reported
            raise ChannelError("the kernel's answer to an experiment has no result")
        try:
            result = wire.decode(answer["result"], self._outcome)
        except wire.WireError as exc:
            raise ChannelError(f"the kernel sent a result the grader does not read ({exc})") from None
        if not isinstance(result, dict):
            raise ChannelError("the kernel's answer to an experiment is not readable")
        return result

    def _outcome(self, spec):
        """An exception the experiment met, or an object that is not data (never a handle)."""
        if "raised" in spec and isinstance(spec["raised"], dict):
            try:
                self.channel._value(spec["raised"])
            except ChannelError:
                raise wire.WireError("an exception that is not readable") from None
            except Exception as exc:  # noqa: BLE001 (the exception itself is the value)
                return exc
            raise wire.WireError("an exception that is not readable")
        if "other" in spec:
            return _other(spec.get("other"), spec.get("repr", ""))
        raise wire.WireError("a handle in an experiment's result")


@contextlib.contextmanager
def installed(channel):
    """While a test cell runs against ``channel``: rnn_course's experiments run in its kernel."""
    from rnn_course import experiment

    experiment._elsewhere = Experiments(channel)
    try:
        yield
    finally:
        experiment._elsewhere = None
