"""The visible tests: ``from rnn_course.checks import elman as check; check.forward_values(fn)``.

Each topic (elman, bptt, vanishing, lstm, gru, birnn, charlm) is a :class:`rnn_course.replay.Topic`
whose attributes are the visible tests stored for it in ``rnn_course/data/<topic>.npz``.
"""

from ..replay import Topic

TOPICS = ("elman", "bptt", "vanishing", "lstm", "gru", "birnn", "charlm")
_loaded = {}


def __getattr__(name):
    if name not in TOPICS:
        raise AttributeError(f"rnn_course.checks has no topic {name!r}; topics: {', '.join(TOPICS)}")
    if name not in _loaded:
        _loaded[name] = Topic(name)
    return _loaded[name]


def __dir__():
    return sorted(TOPICS)
