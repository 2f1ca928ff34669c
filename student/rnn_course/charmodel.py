"""Given code of Assignment 7 (the character-level language model): the model, the text, the score.

None of it is graded: the student writes the batches, the training step and loop, and the sampler
around it.

- :class:`CharLM`: ids (B, T) -> next-character scores (B, T, V) and the new state; an embedding,
  one batch-first torch recurrent layer (``"gru"``, ``"lstm"`` or ``"elman"``), a linear map.
- :func:`course_data`: the course text (the English reference documentation every Python carries
  in ``pydoc_data.topics``), cut into training and held-out text, and its :class:`Vocabulary`.
- :func:`bits_per_character`: how well a model predicts a text read as one sequence.
"""

import math

import numpy as np
import torch
from torch import nn

HELDOUT_FRACTION = 0.1
UNK = "<UNK>"
_CELLS = {"elman": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class CharLM(nn.Module):
    """Character language model: ``model(ids (B, T), state=None) -> (scores (B, T, V), state)``.

    ``state`` is the recurrent layer's state, (1, B, H) (a pair of them for the LSTM); None
    starts from zeros.
    """

    def __init__(self, vocab_size, cell="gru", hidden_size=256, embed_size=64):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"unknown cell {cell!r}; expected one of {sorted(_CELLS)}")
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = _CELLS[cell](embed_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        hs, state = self.rnn(self.embed(ids), state)
        return self.out(hs), state


class Vocabulary:
    """Characters to ids 1 .. V-1 (sorted) and back; id 0 is ``<UNK>``, any unknown character."""

    def __init__(self, chars):
        self.tokens = [UNK] + sorted(set(chars))
        self.ids = {ch: i for i, ch in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    def encode(self, text):
        """str -> int64 array (len(text),) of ids."""
        return np.array([self.ids.get(ch, 0) for ch in text], dtype=np.int64)

    def decode(self, ids):
        """Ids -> str (id 0 shows as '<UNK>')."""
        return "".join(self.tokens[int(i)] for i in np.asarray(ids).reshape(-1))


def course_data():
    """(train_text, heldout_text, vocab): the course text, cut at the line break nearest 90 %.

    The topics of ``pydoc_data.topics`` in sorted order of name, separated by a blank line (about
    465,000 characters in Python 3.11; other versions differ slightly). The vocabulary holds every
    character of the whole text.
    """
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[name].strip("\n") for name in sorted(topics)) + "\n"
    cut = text.rfind("\n", 0, int(len(text) * (1 - HELDOUT_FRACTION))) + 1
    return text[:cut], text[cut:], Vocabulary(text)


@torch.no_grad()
def bits_per_character(model, ids, chunk=2000):
    """Mean -log2 p(next character) over ``ids`` (L,) read as one sequence, the state carried.

    Each id from the second on is predicted from all ids before it; returns a float.
    """
    was_training = model.training
    model.eval()
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    total, state = 0.0, None
    for start in range(0, len(ids) - 1, chunk):
        seen = ids[start:start + chunk + 1]
        scores, state = model(seen[None, :-1], state)
        logp = torch.log_softmax(scores[0].double(), dim=-1)
        total -= float(logp.gather(1, seen[1:, None]).sum())
    model.train(was_training)
    return total / (len(ids) - 1) / math.log(2)
