"""Argument checks shared by every layer: a bad shape names the argument and what was expected."""

import numpy as np


def check_shape(name, array, expected):
    """Raise ValueError unless ``array.shape`` matches ``expected``.

    ``expected`` is a tuple of ints or None (None: any size on that axis).
    Returns the array converted with ``np.asarray`` so callers may pass lists.
    """
    array = np.asarray(array)
    ok = array.ndim == len(expected) and all(
        e is None or s == e for s, e in zip(array.shape, expected)
    )
    if not ok:
        shown = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        raise ValueError(f"{name} has shape {array.shape}, expected {shown}")
    return array


def result_dtype(*arrays):
    """The floating dtype the computation runs in: float64 if any input is, else float32."""
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)
