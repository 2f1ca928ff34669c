"""Real text that every Python installation carries, and the character vocabulary over it.

**The course text** is the English reference documentation bundled with the standard library
in ``pydoc_data.topics`` (what ``help("if")`` prints): 79 topics, about 465,000 characters,
about 100 distinct characters, in CPython 3.11. The topics are joined in sorted order of their
names, separated by a blank line. The split is fixed: the first 90 % of the characters (cut at
the nearest line break) is the training text, the rest the held-out text; no model ever sees
the held-out text during training. The text differs slightly between Python versions, so
results are stored under a key that includes :func:`fingerprint` of the text.

**Python source** for the tagging task comes from :mod:`rnn_ref.apps.tagging`.
"""

import hashlib

import numpy as np

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


class CharVocab:
    """A fixed alphabet: characters <-> integer ids 0 .. V-1, in sorted order of character.

    Built from the whole text (training and held-out), so every held-out character has an id:
    a closed vocabulary, as usual for character models.
    """

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """str of length T -> int64 array (T,)."""
        return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids):
        """Sequence of ids -> str."""
        return "".join(self.chars[int(i)] for i in ids)
