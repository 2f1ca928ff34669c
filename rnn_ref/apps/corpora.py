"""Generated corpora: small, seeded, deterministic for a seed, made by the repo's own code.

- :func:`sentiment_corpus`: short film reviews whose label depends on word order (negation and
  its scope, "but" clauses, intensifiers, distractor phrases);
- :func:`entity_corpus`: sentences with entity tags where the right context decides the tag of
  an ambiguous word (the lectures' "Teddy Roosevelt" / "teddy bears");
- :func:`parity_data`: bit strings and their running parity;
- :func:`recall_data`: remember a symbol across a gap of L distractors;
- :func:`number_corpus`: English number words and their digits (sequence to sequence).

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


# --------------------------------------------------------------------- number words -> digits

UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = ["", "thousand", "million", "billion"]
NUMBER_WORDS = UNITS + TENS[2:] + ["hundred"] + SCALES[1:] + ["and", "a"]
MAX_DIGITS = 12


def _below_hundred(n, style):
    """Words for 0 < n < 100; "four and twenty" (units first) in the old style."""
    if n < 20:
        return [UNITS[n]]
    tens, units = divmod(n, 10)
    if units == 0:
        return [TENS[tens]]
    if style["old"]:
        return [UNITS[units], "and", TENS[tens]]
    return [TENS[tens], UNITS[units]]


def _below_thousand(n, style):
    """Words for 0 < n < 1000, with the British "and" after "hundred" if the style says so."""
    hundreds, rest = divmod(n, 100)
    words = [UNITS[hundreds], "hundred"] if hundreds else []
    if rest:
        words += (["and"] if hundreds and style["and"] else []) + _below_hundred(rest, style)
    return words


def number_to_words(n, style):
    """English words (a list of str) for 0 <= n < 10**12, in a style (a dict of bools).

    style: "and": "one hundred and five" (British) instead of "one hundred five"; "a": "a
    hundred", "a thousand" ... for a leading "one"; "old": units before tens, "four and
    twenty", as in the nursery rhyme; "hundreds": 1100 .. 9999 said in hundreds, "nineteen
    hundred and eighty four", when the hundreds digit is not zero. Hyphens ("eighty-four") are
    left out: each word is a token.
    """
    if n == 0:
        return ["zero"]
    if style["hundreds"] and 1100 <= n <= 9999 and (n // 100) % 10:
        high, rest = divmod(n, 100)
        words = _below_hundred(high, style) + ["hundred"]
        if rest:
            words += (["and"] if style["and"] else []) + _below_hundred(rest, style)
    else:
        words = []
        for scale in range(len(SCALES) - 1, -1, -1):
            group = (n // 1000 ** scale) % 1000
            if group:
                words += _below_thousand(group, style) + ([SCALES[scale]] if scale else [])
    if style["a"] and words[0] == "one" and len(words) > 1 and words[1] in ("hundred", *SCALES[1:]):
        words[0] = "a"
    return words


def random_number(rng, digits):
    """A random number of exactly ``digits`` digits whose 3-digit groups are each zero with
    probability 0.2 (so that "five million seven" occurs); one digit: 0 .. 9."""
    if digits == 1:
        return int(rng.integers(10))
    while True:
        n = int(rng.integers(10 ** (digits - 1), 10 ** digits))
        for g in range((digits - 1) // 3 + 1):
            if rng.random() < 0.2:
                n -= (n // 1000 ** g % 1000) * 1000 ** g
        if n >= 10 ** (digits - 1):
            return n


def number_corpus(n, seed, digits=range(1, MAX_DIGITS + 1)):
    """n pairs (words, digits) of English number words and the number in digits.

    The number of digits is drawn uniformly from ``digits``, then the number by
    :func:`random_number`, then a style for :func:`number_to_words`: British "and" with
    probability 1/2, "a" for a leading "one" 1/3, units before tens 1/10, hundreds for 1100 ..
    9999 1/2. Returns a list of (list of words, str of digits), e.g.
    (["four", "and", "twenty", "thousand", "a", ...], ...) -> "24..." The input is a few words
    to ~30, the output 1 to 12 digits; their lengths differ, and the order of the two differs
    wherever the old style puts units before tens or a group of zeros has no words at all.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        number = random_number(rng, int(rng.choice(list(digits))))
        style = {"and": rng.random() < 1 / 2, "a": rng.random() < 1 / 3, "old": rng.random() < 1 / 10,
                 "hundreds": rng.random() < 1 / 2}
        out.append((number_to_words(number, style), str(number)))
    return out
