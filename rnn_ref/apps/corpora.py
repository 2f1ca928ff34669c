"""Generated corpora: small, seeded, deterministic for a seed, made by the repo's own code.

- :func:`sentiment_corpus`: short film reviews whose label depends on word order (negation and
  its scope, "but" clauses, intensifiers, distractor phrases);
- :func:`entity_corpus`: sentences with entity tags where the right context decides the tag of
  an ambiguous word (the lectures' "Teddy Roosevelt" / "teddy bears");
- :func:`parity_data`: bit strings and their running parity;
- :func:`recall_data`: remember a symbol across a gap of L distractors.

Every generator takes a seed (or a ``numpy.random.Generator``) and returns the same data for the
same seed on every machine.
"""

import numpy as np

# ----------------------------------------------------------------------------------- sentiment

POSITIVE = ["good", "great", "excellent", "moving", "brilliant", "charming", "funny", "wonderful"]
NEGATIVE = ["bad", "boring", "dull", "awful", "terrible", "weak", "tedious", "bland"]
NOUNS = ["movie", "film", "plot", "acting", "music", "story", "ending", "cast", "script", "pacing"]
STRONG = ["very", "extremely", "truly", "really"]
WEAK = ["slightly", "somewhat", "a bit", "mildly"]
NEUTRAL = ["long", "loud", "short", "quiet", "old", "new", "slow", "fast"]
DISTRACTORS = [
    "despite what the trailer suggested", "as far as i can tell", "after watching it twice",
    "to be perfectly honest", "and i saw it with my family", "in the version i saw",
    "for a film of this kind", "unlike what my friends told me", "at least in the cinema",
    "if you ask me", "on a rainy sunday afternoon", "from start to finish",
]
CONSTRUCTIONS = ["plain", "negation", "negation scope", "but clause", "intensifier", "distractor"]


def _opinion(rng, positive):
    return str(rng.choice(POSITIVE if positive else NEGATIVE))


def _sentiment_example(rng, construction):
    """One review of the given construction: (list of words, label 1 positive / 0 negative)."""
    label = int(rng.integers(2))
    noun = f"the {rng.choice(NOUNS)}"
    if construction == "plain":
        text = f"{noun} was {_opinion(rng, label)}"
    elif construction == "negation":  # "not" flips the word right after it
        text = f"{noun} was not {_opinion(rng, not label)}"
    elif construction == "negation scope":  # the negation covers a neutral word only
        negated = rng.integers(2)
        first = f"not {rng.choice(NEUTRAL)}" if negated else str(rng.choice(NEUTRAL))
        second = f"{_opinion(rng, label)}" if negated else f"not {_opinion(rng, not label)}"
        text = f"{noun} was {first} and it was {second}"
    elif construction == "but clause":  # the clause after "but" decides
        text = f"{noun} was {_opinion(rng, not label)} but the {rng.choice(NOUNS)} was {_opinion(rng, label)}"
    elif construction == "intensifier":  # the strongly qualified opinion wins
        strong = f"{rng.choice(STRONG)} {_opinion(rng, label)}"
        weak = f"{rng.choice(WEAK)} {_opinion(rng, not label)}"
        pair = (strong, weak) if rng.integers(2) else (weak, strong)
        text = f"{noun} was {pair[0]} and {pair[1]}"
    elif construction == "distractor":  # a long phrase between the negation and its word
        phrase = " , ".join(rng.choice(DISTRACTORS, size=int(rng.integers(1, 3)), replace=False))
        text = f"{noun} was not , {phrase} , {_opinion(rng, not label)}"
    else:
        raise ValueError(f"unknown construction {construction!r}; expected one of {CONSTRUCTIONS}")
    return text.split(), label


def sentiment_corpus(n, seed, constructions=CONSTRUCTIONS):
    """n reviews, the constructions in equal shares (cycled), shuffled by ``seed``.

    Returns a list of (words, label, construction): words a list of str, label 1 (positive) or
    0 (negative), construction its name. "negation scope", "but clause" and "intensifier" have
    pairs of reviews with the same words and opposite labels, so a bag-of-words model is at
    chance on them. In "negation" and "distractor" the opinion word means the opposite of what
    it means in "plain": a linear bag-of-words model cannot fit both (the weight of "not" would
    have to outweigh every opinion word in both directions at once).
    """
    rng = np.random.default_rng(seed)
    names = [constructions[i % len(constructions)] for i in range(n)]
    rng.shuffle(names)
    return [(*_sentiment_example(rng, c), c) for c in names]


# ------------------------------------------------------------------------------------ entities

# An ambiguous first word, and continuations that decide its tag: (tags, following words).
AMBIGUOUS = {
    "teddy": [("PER", ["roosevelt"]), ("O", ["bears"])],
    "salt": [("LOC", ["lake", "city"]), ("O", ["and", "pepper"])],
    "jordan": [("PER", ["peterson"]), ("LOC", ["river", "valley"])],
    "paris": [("PER", ["hilton"]), ("LOC", ["city", "centre"])],
    "washington": [("PER", ["irving"]), ("LOC", ["state", "university"])],
    "new": [("LOC", ["york"]), ("O", ["ideas"])],
    "green": [("LOC", ["bay"]), ("O", ["apples"])],
    "georgia": [("PER", ["o'keeffe"]), ("LOC", ["coast"])],
}
SUBJECTS = ["she", "he", "my friend", "the teacher", "our guide", "the author"]
VERBS = ["talked about", "wrote about", "mentioned", "liked", "visited", "remembered"]
ENDINGS = ["yesterday", "last week", "in the book", "at dinner", "", "", "often", "again"]
TAGS = ["O", "PER", "LOC"]


def entity_corpus(n, seed):
    """n lower-case sentences with one ambiguous entity each, tags O / PER / LOC per word.

    The tag of the ambiguous word (e.g. "teddy") depends on the word(s) after it, which a
    left-to-right model has not read yet. The words that follow carry the entity's tag too,
    (BIO prefixes are left out to keep the tag set small). Returns a list of
    (words, tags, head index): the index of the ambiguous word in the sentence.
    """
    rng = np.random.default_rng(seed)
    heads = sorted(AMBIGUOUS)
    out = []
    for _ in range(n):
        head = heads[int(rng.integers(len(heads)))]
        tag, rest = AMBIGUOUS[head][int(rng.integers(2))]
        start = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)}".split()
        end = str(rng.choice(ENDINGS)).split()
        words = start + [head] + rest + end
        tags = ["O"] * len(start) + [tag] * (1 + len(rest)) + ["O"] * len(end)
        out.append((words, tags, len(start)))
    return out


# ------------------------------------------------------------------------ parity and recall

def parity_data(n, length, seed):
    """n random bit strings and their running parity (the slides' task with no fixed window).

    Returns (bits, parity): int64 arrays (n, length); parity[:, t] = (bits[:, :t+1].sum()) % 2.
    """
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n, length))
    return bits, np.cumsum(bits, axis=1) % 2


def recall_data(n, gap, seed, symbols=4, distractors=4):
    """Remember the first symbol across ``gap`` distractor tokens, then say it when asked.

    Tokens: 0 .. symbols-1 are the symbols to remember, the next ``distractors`` ids are noise,
    and the last id (symbols + distractors) is the question mark. A sequence is
    [symbol, gap random distractors, question mark], length gap + 2.
    Returns (x (n, gap + 2) int64, y (n,) int64 the symbol), vocabulary size symbols+distractors+1.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, symbols, size=n)
    noise = rng.integers(symbols, symbols + distractors, size=(n, gap))
    query = np.full((n, 1), symbols + distractors)
    return np.concatenate([y[:, None], noise, query], axis=1).astype(np.int64), y.astype(np.int64)
