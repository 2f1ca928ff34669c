"""A character vocabulary: characters to integer ids and back, and the one-hot vectors of the lectures.

Id 0 is reserved for ``<UNK>``, the token that stands for every character not seen when the
vocabulary was built; the known characters follow in sorted order.
"""

import numpy as np

UNK = "<UNK>"


class Vocabulary:
    """Maps characters to ids 1 ... V-1 and anything unknown to 0 (``<UNK>``).

    ``tokens`` is the list id -> token (tokens[0] == UNK); ``len(vocab)`` is V.
    """

    def __init__(self, chars):
        chars = sorted(set(chars))
        self.tokens = [UNK] + chars
        self.ids = {ch: i for i, ch in enumerate(self.tokens)}

    @classmethod
    def from_text(cls, text):
        """The vocabulary of every distinct character in ``text``."""
        return cls(text)

    def __len__(self):
        return len(self.tokens)

    def encode(self, text):
        """str -> int64 array (len(text),) of ids; unknown characters become 0."""
        return np.array([self.ids.get(ch, 0) for ch in text], dtype=np.int64)

    def decode(self, ids):
        """Array-like of ids -> str; id 0 appears as '<UNK>'. ValueError for ids outside [0, V)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in [0, {len(self)}), got min {ids.min()}, max {ids.max()}")
        return "".join(self.tokens[i] for i in ids)


def one_hot(ids, V, dtype=np.float64):
    """ids (...) integers in [0, V) -> (..., V) array with a single 1 in the row of each id.

    one_hot(ids, V) @ W equals W[ids], the embedding lookup of :mod:`rnn_ref.layers`.
    """
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must hold integers, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"ids must lie in [0, {V}), got min {ids.min()}, max {ids.max()}")
    return (ids[..., None] == np.arange(V)).astype(dtype)
