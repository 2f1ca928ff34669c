r"""Smoothed character n-gram models: the baselines a recurrent language model must beat.

An n-gram model predicts a character from the n-1 characters before it. Counts alone give
probability zero to anything unseen, so the counts are smoothed:

- **additive** (add-k): :math:`P(c \mid h) = (N(hc) + k) / (N(h) + kV)`;
- **interpolated Kneser-Ney**: subtract a discount D from every seen count and give the freed
  mass to a lower-order model, whose counts are *continuation counts* (how many different
  characters precede a string, not how often it occurs):

.. math::

    P(c \mid h) = \frac{\max(N(hc) - D, 0)}{N(h)} + \frac{D\, N_{1+}(h\,\bullet)}{N(h)}\,
    P(c \mid h')

where h' drops the oldest character of h and :math:`N_{1+}(h\,\bullet)` is the number of
distinct characters seen after h (the formula of the highest order; the lower orders use
continuation counts in place of N). The recursion ends in the uniform distribution 1/V. D per
order is Ney's estimate n1 / (n1 + 2 n2) from the counts of counts.

Histories shorter than n-1 (the first characters of a text) use the longest available order.
Every probability is normalised over the V characters of the vocabulary, so held-out
bits per character are comparable with a neural model's.
"""

import math
from collections import Counter, defaultdict

import numpy as np


class NGramCounts:
    """Counts of every character k-gram, k = 1 .. n, of a training text."""

    def __init__(self, text, n):
        self.n = n
        self.grams = [None] + [Counter(text[i:i + k] for i in range(len(text) - k + 1)) for k in range(1, n + 1)]


def _context_totals(counts):
    """k-gram counts -> {history: (total count, number of distinct next characters)}."""
    totals = defaultdict(lambda: [0, 0])
    for gram, c in counts.items():
        t = totals[gram[:-1]]
        t[0] += c
        t[1] += 1
    return {h: tuple(t) for h, t in totals.items()}


def _ney_discount(counts):
    values = Counter(counts.values())
    n1, n2 = values.get(1, 0), values.get(2, 0)
    return n1 / (n1 + 2 * n2) if n1 else 0.5


class AdditiveNGram:
    """Add-k smoothed n-gram model over a closed vocabulary of V characters."""

    name = "additive"

    def __init__(self, counts, order, vocab_size, k=1.0):
        self.order, self.V, self.k = order, vocab_size, k
        self.levels = counts.grams[:order + 1]
        self.totals = [None] + [{h: t for h, (t, _) in _context_totals(self.levels[j]).items()}
                                for j in range(1, order + 1)]

    def prob(self, history, char):
        j = min(self.order, len(history) + 1)  # start of a text: the longest history available
        h = history[len(history) - j + 1:] if j > 1 else ""
        return (self.levels[j].get(h + char, 0) + self.k) / (self.totals[j].get(h, 0) + self.k * self.V)


class KneserNeyNGram:
    """Interpolated Kneser-Ney n-gram model over a closed vocabulary of V characters."""

    name = "kneser-ney"

    def __init__(self, counts, order, vocab_size):
        self.order, self.V = order, vocab_size
        # highest order: raw counts; lower orders: continuation counts N1+(. g)
        self.levels = [None] * (order + 1)
        self.levels[order] = counts.grams[order]
        for k in range(order - 1, 0, -1):
            cont = Counter(g[1:] for g in counts.grams[k + 1])
            self.levels[k] = cont
        self.totals = [None] + [_context_totals(self.levels[k]) for k in range(1, order + 1)]
        self.discounts = [None] + [_ney_discount(self.levels[k]) for k in range(1, order + 1)]

    def prob(self, history, char):
        k_max = min(self.order, len(history) + 1)
        p = 1.0 / self.V
        for k in range(1, k_max + 1):  # from unigram up to the longest history
            h = history[len(history) - k + 1:] if k > 1 else ""
            total, distinct = self.totals[k].get(h, (0, 0))
            if total == 0:
                continue  # unseen history: keep the lower-order estimate
            D = self.discounts[k]
            p = (max(self.levels[k].get(h + char, 0) - D, 0) + D * distinct * p) / total
        return p


def bits_per_char(model, text, order):
    """Mean -log2 P(c_t | c_{t-n+1} .. c_{t-1}) over every character of ``text``."""
    total = 0.0
    for t, c in enumerate(text):
        total -= math.log2(model.prob(text[max(0, t - order + 1):t], c))
    return total / len(text)


def ngram_baselines(train_text, heldout_text, vocab_size, orders=range(1, 7), ks=(1.0, 0.1, 0.01)):
    """Held-out bits per character of every baseline.

    Returns a list of dicts {"smoothing", "n", "k" (additive only), "bpc"}, additive for each k in
    ``ks`` and Kneser-Ney, for each order n. The best additive k is picked on the held-out text,
    which flatters the baseline: a model that beats it beats every k.
    """
    counts = NGramCounts(train_text, max(orders))
    rows = []
    for n in orders:
        for k in ks:
            rows.append({"smoothing": "additive", "n": n, "k": k,
                         "bpc": bits_per_char(AdditiveNGram(counts, n, vocab_size, k), heldout_text, n)})
        rows.append({"smoothing": "kneser-ney", "n": n,
                     "bpc": bits_per_char(KneserNeyNGram(counts, n, vocab_size), heldout_text, n)})
    return rows


# ------------------------------------------------------------------ long orders, hashed contexts

_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication by it is a bijection mod 2**64


def gram_hashes(codes, max_order):
    """Hashes of every k-gram of ``codes`` (L,) int, k = 0 .. max_order: a list of uint64 arrays.

    Entry k has length L - k + 1; its element i stands for codes[i:i + k] (entry 0: the empty
    string at every position, length L + 1). The hash is the polynomial
    sum_j (codes[i + j] + 1) * BASE**(k - 1 - j) mod 2**64. Two different k-grams of natural
    text get the same hash with probability about 2**-64, so among the ~10**7 grams of orders
    up to 20 of this corpus a collision is very unlikely (about 10**-5).
    """
    c = np.asarray(codes, dtype=np.uint64) + np.uint64(1)
    out = [np.zeros(len(c) + 1, dtype=np.uint64)]
    with np.errstate(over="ignore"):
        for k in range(1, max_order + 1):
            out.append(out[-1][:len(c) - k + 1] * _BASE + c[k - 1:])
    return out


class _Level:
    """The counts of one order k and their per-history totals, looked up by hash.

    grams: sorted unique k-gram hashes, counts: their counts (raw or continuation, > 0 kept
    only), histories: sorted unique (k-1)-gram hashes of those grams, with per history the
    total count and the number of grams seen after it once, twice and three times or more.
    """

    def __init__(self, grams, counts, history_of_gram, discounts):
        keep = counts > 0
        self.grams, self.counts = grams[keep], counts[keep]
        history = history_of_gram[keep]
        self.histories, inverse = np.unique(history, return_inverse=True)
        m = len(self.histories)
        self.total = np.bincount(inverse, weights=self.counts, minlength=m)
        n = [np.bincount(inverse, weights=(self.counts == j) if j < 3 else (self.counts >= 3), minlength=m)
             for j in (1, 2, 3)]
        self.discounts = np.asarray(discounts, dtype=np.float64)  # for counts 1, 2, 3+
        self.freed = sum(d * nj for d, nj in zip(self.discounts, n))  # mass given to the lower order

    def update(self, p, gram, history):
        """One interpolation step: the lower-order probability p -> this order's, per position."""
        j = np.minimum(np.searchsorted(self.histories, history), len(self.histories) - 1)
        seen = self.histories[j] == history
        i = np.minimum(np.searchsorted(self.grams, gram), len(self.grams) - 1)
        c = np.where(self.grams[i] == gram, self.counts[i], 0)
        d = np.where(c > 0, self.discounts[np.clip(c, 1, 3) - 1], 0.0)
        total = np.where(seen, self.total[j], 1.0)
        mixed = (np.maximum(c - d, 0.0) + self.freed[j] * p) / total
        return np.where(seen, mixed, p)  # unseen history: keep the lower-order estimate


def count_discounts(counts, modified):
    """Discounts for counts 1, 2, 3+ from the counts of counts n_j (j = 1 .. 4) of ``counts``.

    One discount (Ney): D = n1 / (n1 + 2 n2) for every count. Modified (Chen and Goodman, 1999):
    with Y = n1 / (n1 + 2 n2), D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2, D3+ = 3 - 4Y n4/n3.
    """
    n = np.bincount(np.minimum(counts, 5).astype(np.int64), minlength=6)[1:5].astype(np.float64)
    if n[0] == 0:
        return (0.5, 0.5, 0.5)
    y = n[0] / (n[0] + 2 * n[1])
    if not modified:
        return (y, y, y)
    d = [1 - 2 * y * n[1] / n[0],
         2 - 3 * y * n[2] / n[1] if n[1] else 1.0,
         3 - 4 * y * n[3] / n[2] if n[2] else 1.0]
    return tuple(float(np.clip(dj, 0.0, j + 1)) for j, dj in enumerate(d))


class HashedKneserNey:
    """Interpolated Kneser-Ney models of every order 1 .. max_order at once, on hashed k-grams.

    The same model as :class:`KneserNeyNGram` (raw counts at the highest order of a model,
    continuation counts below it, the first characters of a text using the longest history
    available), with one discount per order (``modified=False``) or three, for counts 1, 2 and
    3+ (``modified=True``: modified Kneser-Ney, Chen and Goodman 1999):

    .. math::

        P(c \\mid h) = \\frac{\\max(N(hc) - D(N(hc)), 0)}{N(h)} +
        \\frac{D_1 N_1(h\\,\\bullet) + D_2 N_2(h\\,\\bullet) + D_{3+} N_{3+}(h\\,\\bullet)}{N(h)}\\,
        P(c \\mid h')

    where :math:`N_j(h\\,\\bullet)` is the number of characters seen exactly j times after h
    (3+: three times or more). k-grams are 64-bit hashes (:func:`gram_hashes`) in sorted numpy
    arrays, and a whole text is scored one order at a time with vectorised look-ups, so order 20
    of the course text takes seconds where the dictionaries of :class:`KneserNeyNGram` take
    minutes.

    codes: the training text as integer codes (L,); vocab_size: V, the size of the closed vocabulary.
    """

    def __init__(self, codes, max_order, vocab_size, modified=True):
        self.max_order, self.V, self.modified = max_order, vocab_size, modified
        g = gram_hashes(codes, max_order + 1)
        self.raw, self.cont = [None], [None]
        for k in range(1, max_order + 1):
            grams, first, counts = np.unique(g[k], return_index=True, return_counts=True)
            history = g[k - 1][first]
            self.raw.append(_Level(grams, counts, history, count_discounts(counts, modified)))
            # continuation count of a k-gram: the number of distinct (k+1)-grams ending in it
            longer, first_longer = np.unique(g[k + 1], return_index=True)
            suffix = g[k][first_longer + 1]
            cont = np.bincount(np.searchsorted(grams, suffix), minlength=len(grams))
            self.cont.append(_Level(grams, cont, history, count_discounts(cont[cont > 0], modified)))

    def log2_probs(self, codes, orders=None):
        """{n: log2 P(c_t | c_{t-n+1} .. c_{t-1}) for every position t of ``codes``} (arrays (L,)).

        History is taken from ``codes`` itself; position t has t characters of history.
        """
        orders = sorted(orders or range(1, self.max_order + 1))
        L = len(codes)
        g = gram_hashes(codes, orders[-1])
        t = np.arange(L)
        p = np.full(L, 1.0 / self.V)  # continuation-count model up to order k - 1
        out = {}
        for k in range(1, orders[-1] + 1):
            ok = t >= k - 1  # positions with k - 1 characters of history
            start = t[ok] - k + 1
            gram, history = g[k][start], g[k - 1][start]
            if k in orders:
                top = p.copy()
                top[ok] = self.raw[k].update(p[ok], gram, history)
                out[k] = np.log2(top)
            p[ok] = self.cont[k].update(p[ok], gram, history)
        return out

    def bits_per_char(self, codes, orders=None):
        """{n: held-out bits per character of the order-n model on ``codes``}."""
        return {n: float(-lp.mean()) for n, lp in self.log2_probs(codes, orders).items()}


def copied_fraction(train_codes, heldout_codes, length):
    """The fraction of held-out characters that lie in a stretch of at least ``length``
    characters which also occurs, character for character, in the training text."""
    def hashes(codes):
        c = np.asarray(codes, dtype=np.uint64) + np.uint64(1)
        h = np.zeros(len(c) - length + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(length):
                h = h * _BASE + c[j:len(c) - length + 1 + j]
        return h

    found = np.isin(hashes(heldout_codes), hashes(train_codes))
    starts = np.zeros(len(heldout_codes) + 1, dtype=np.int64)  # +1 at each start, -1 after its end
    np.add.at(starts, np.flatnonzero(found), 1)
    np.add.at(starts, np.flatnonzero(found) + length, -1)
    return float((np.cumsum(starts)[:-1] > 0).mean())
