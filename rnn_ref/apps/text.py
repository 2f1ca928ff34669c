"""Real text that every Python installation carries.

**The course text** is the English reference documentation bundled with the standard library
in ``pydoc_data.topics`` (what ``help("if")`` prints): 79 topics, about 465,000 characters,
about 100 distinct characters, in CPython 3.11. The topics are joined in sorted order of their
names, separated by a blank line. The split is fixed: the first 90 % of the characters (cut at
the nearest line break) is the training text, the rest the held-out text; no model ever sees
the held-out text during training. The text differs slightly between Python versions, so
results are stored under a key that includes :func:`fingerprint` of the text.

Characters become ids through :class:`rnn_ref.vocab.Vocabulary`, built from the whole text
(training and held-out): a closed vocabulary, as usual for character models, so every held-out
character has an id.
"""

import hashlib

HELDOUT_FRACTION = 0.1


def course_text():
    """The whole course text: every ``pydoc_data.topics`` entry, in sorted order of name."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip("\n") for name in sorted(topics)) + "\n"


def course_split(heldout_fraction=HELDOUT_FRACTION):
    """Returns (train_text, heldout_text): the course text cut at the line break nearest 90 %."""
    text = course_text()
    cut = text.rfind("\n", 0, int(len(text) * (1 - heldout_fraction))) + 1
    return text[:cut], text[cut:]


def fingerprint(text):
    """A short hash of a text, put into result keys so that a different text trains anew."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
