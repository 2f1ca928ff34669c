"""The visible tests: ``from rnn_course.checks import elman as check; check.forward_values(fn)``.

Each topic (elman, bptt, vanishing, lstm, gru, birnn, charlm) is a :class:`rnn_course.replay.Topic`
whose attributes are the visible tests stored for it in ``rnn_course/data/<topic>.npz``.
Every import gives a new Topic that reads its data from the package's file: nothing a cell
does to a Topic it holds (replacing a test, changing the stored values) reaches the next test
cell, which imports its own.
"""

from ..replay import Topic

TOPICS = ("elman", "bptt", "vanishing", "lstm", "gru", "birnn", "charlm")


def __getattr__(name):
    if name not in TOPICS:
        raise AttributeError(f"rnn_course.checks has no topic {name!r}; topics: {', '.join(TOPICS)}")
    return Topic(name)


def __dir__():
    return sorted(TOPICS)
