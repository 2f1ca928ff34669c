"""rnn_ref.apps baselines: hashed Kneser-Ney (one and three discounts) and compressors as coders."""

import math
import random
from collections import Counter

import numpy as np
import pytest

from rnn_ref.apps.compressors import bz2_bytes, conditional_bpc, xz_bytes
from rnn_ref.apps.ngram import (HashedKneserNey, KneserNeyNGram, NGramCounts, copied_fraction, count_discounts,
                                 gram_hashes)
from rnn_ref.apps.text import course_split


def codes(text):
    return np.array([ord(c) for c in text])


@pytest.fixture(scope="module")
def small_split():
    train, heldout = course_split()
    return train[:40_000], heldout[:4_000]


def test_gram_hashes_tell_every_distinct_gram_apart(small_split):
    text = small_split[0]
    g = gram_hashes(codes(text), 8)
    for k in (1, 3, 8):
        assert len(g[k]) == len(text) - k + 1
        grams = [text[i:i + k] for i in range(len(text) - k + 1)]
        assert len(set(grams)) == len(np.unique(g[k]))  # no collision
        assert len(set(zip(grams, g[k].tolist()))) == len(set(grams))  # one hash per gram


def test_one_discount_matches_the_dictionary_model(small_split):
    train, heldout = small_split
    V = len(set(train + heldout)) + 1
    counts = NGramCounts(train, 5)
    fast = HashedKneserNey(codes(train), 5, V, modified=False).log2_probs(codes(heldout[:1500]))
    for n in (1, 3, 5):
        slow = KneserNeyNGram(counts, n, V)
        expected = [math.log2(slow.prob(heldout[max(0, t - n + 1):t], c)) for t, c in enumerate(heldout[:1500])]
        np.testing.assert_allclose(fast[n], expected, rtol=1e-10, atol=1e-12)


def reference_modified_kn(train, n, V):
    """Interpolated modified Kneser-Ney written plainly with dictionaries of strings."""
    raw = [Counter(train[i:i + k] for i in range(len(train) - k + 1)) for k in range(n + 1)]
    levels = {n: raw[n]}
    for k in range(1, n):
        levels[k] = Counter(g[1:] for g in raw[k + 1])

    def discounts(counts):
        m = Counter(counts.values())
        y = m[1] / (m[1] + 2 * m[2])
        return [0.0, 1 - 2 * y * m[2] / m[1], 2 - 3 * y * m[3] / m[2], 3 - 4 * y * m[4] / m[3]]

    D = {k: discounts(levels[k]) for k in levels}

    def prob(history, c):
        p = 1 / V
        for k in range(1, min(n, len(history) + 1) + 1):
            h = history[len(history) - k + 1:] if k > 1 else ""
            after = {g: v for g, v in levels[k].items() if g[:-1] == h}
            if not after:
                continue
            total = sum(after.values())
            freed = sum(D[k][min(v, 3)] for v in after.values())
            count = after.get(h + c, 0)
            p = (max(count - D[k][min(count, 3)], 0) + freed * p) / total
        return p

    return prob


def test_modified_kneser_ney_matches_a_plain_implementation(small_split):
    train, heldout = small_split[0][:5000], small_split[1][:60] + "\x01 "  # an unseen character too
    V = len(set(train + heldout)) + 1
    fast = HashedKneserNey(codes(train), 4, V, modified=True).log2_probs(codes(heldout))
    for n in (2, 4):
        prob = reference_modified_kn(train, n, V)
        expected = [math.log2(prob(heldout[max(0, t - n + 1):t], c)) for t, c in enumerate(heldout)]
        np.testing.assert_allclose(fast[n], expected, rtol=1e-10)


@pytest.mark.parametrize("modified", [False, True])
def test_every_order_is_a_distribution_over_the_vocabulary(small_split, modified):
    train = small_split[0]
    alphabet = sorted(set(train)) + ["\x00"]  # one character never seen
    model = HashedKneserNey(codes(train), 12, len(alphabet), modified)
    for history in ["", "the ", "def __init__(self", "zqzqzq", "class Foo"]:
        total = {n: 0.0 for n in range(1, 13)}
        for c in alphabet:
            lp = model.log2_probs(codes(history + c))
            for n in total:
                total[n] += 2 ** lp[n][-1]
        assert all(math.isclose(t, 1.0, rel_tol=1e-9) for t in total.values()), (history, total)


def test_count_discounts_follow_chen_and_goodman():
    counts = np.array([1] * 40 + [2] * 10 + [3] * 5 + [4] * 2 + [7] * 3)
    y = 40 / (40 + 2 * 10)
    assert count_discounts(counts, modified=False) == pytest.approx((y, y, y))
    assert count_discounts(counts, modified=True) == pytest.approx(
        (1 - 2 * y * 10 / 40, 2 - 3 * y * 5 / 10, 3 - 4 * y * 2 / 5))


def test_compressors_as_conditional_coders():
    rng = random.Random(1)
    train = "".join(rng.choice("abcdefghijklmnop") for _ in range(200_000))
    copied = train[150_000:160_000]  # far back: outside a small window, inside xz's dictionary
    fresh = "".join(rng.choice("abcdefghijklmnop") for _ in range(10_000))
    for size in (xz_bytes, bz2_bytes):  # log2 16 = 4 bits of new information per character
        assert 3.8 < conditional_bpc(size, train, fresh) < 4.6
    assert conditional_bpc(xz_bytes, train, copied) < 0.1  # xz copies a stretch it has read
    # bz2 sorts contexts of a block (Burrows-Wheeler) instead of copying; on random text it gains little
    assert conditional_bpc(bz2_bytes, train, copied) < conditional_bpc(bz2_bytes, train, fresh)


def test_copied_fraction_counts_characters_inside_long_shared_stretches():
    train = codes("abcdefghij" * 3 + "0123456789")
    held = codes("xyz" + "hijabcdefg" + "q" * 7)  # 10 shared characters, 20 in all
    assert copied_fraction(train, held, 10) == 0.5
    assert copied_fraction(train, held, 11) == 0.0
    assert copied_fraction(train, held, 4) == 0.5
