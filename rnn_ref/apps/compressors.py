"""General-purpose compressors as language models: xz and bz2 used as conditional coders.

A compressor that turns a text into B bits is a probability model of it, since an ideal coder
spends -log2 P bits on a text of probability P. To score it on held-out text *given* the
training text, as a language model is scored, compress the training text alone and the
training text followed by the held-out text; the difference is what the held-out text costs
once the compressor has read the training text::

    bits per held-out character = 8 * (size(train + heldout) - size(train)) / len(heldout)

with ``size`` the length in bytes of the compressed output, per character (not byte) of
held-out text, like every other row of the course's table. xz (LZMA2) is given a dictionary larger than the training
text, so it may copy any earlier stretch of it; bz2 works in blocks of 900 kB, which here hold
the whole text. Both adapt as they read: they also copy from the held-out text already coded.
"""

import bz2
import lzma


def xz_bytes(data, preset=9 | lzma.PRESET_EXTREME):
    """Size of ``data`` (bytes) compressed by xz (LZMA2) with a dictionary that holds all of it."""
    dict_size = max(1 << 20, 1 << (len(data) - 1).bit_length())  # a power of 2 >= len(data)
    filters = [{"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": dict_size}]
    return len(lzma.compress(data, format=lzma.FORMAT_XZ, filters=filters))


def bz2_bytes(data):
    """Size of ``data`` (bytes) compressed by bz2 with its largest blocks (900 kB)."""
    return len(bz2.compress(data, compresslevel=9))


COMPRESSORS = {"xz": xz_bytes, "bz2": bz2_bytes}


def conditional_bpc(size, train_text, heldout_text):
    """Bits per held-out character of a compressor ``size`` (bytes -> compressed length) given the training text."""
    train = train_text.encode("utf-8")
    both = (train_text + heldout_text).encode("utf-8")
    return 8 * (size(both) - size(train)) / len(heldout_text)


def compressor_baselines(train_text, heldout_text):
    """Rows {"compressor", "bpc", "alone_bpc"} for xz and bz2.

    bpc: conditional on the training text; alone_bpc: the held-out text compressed by itself.
    """
    return [{"compressor": name, "bpc": conditional_bpc(size, train_text, heldout_text),
             "alone_bpc": 8 * size(heldout_text.encode("utf-8")) / len(heldout_text)}
            for name, size in COMPRESSORS.items()]
