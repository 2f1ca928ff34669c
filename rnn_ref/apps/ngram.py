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
