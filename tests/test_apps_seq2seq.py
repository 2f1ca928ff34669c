"""rnn_ref.apps.seq2seq: the number-words generator, the encoder-decoder, greedy and beam decoding."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from rnn_ref.apps import seq2seq
from rnn_ref.apps.corpora import NUMBER_WORDS, number_corpus, number_to_words
from rnn_ref.apps.models import Seq2Seq

VALUES = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                      "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
                                      "sixteen", "seventeen", "eighteen", "nineteen"])}
VALUES.update({w: 10 * k for k, w in enumerate(["twenty", "thirty", "forty", "fifty", "sixty", "seventy",
                                                "eighty", "ninety"], start=2)})
VALUES["a"] = 1
SCALE = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9}


def read_number(words):
    """An independent reader of English number words: add small numbers, multiply by "hundred",
    close a group at "thousand" / "million" / "billion"; "and" is ignored."""
    total = current = 0
    for w in words:
        if w in VALUES:
            current += VALUES[w]
        elif w == "hundred":
            current *= 100
        elif w in SCALE:
            total, current = total + current * SCALE[w], 0
        else:
            assert w == "and", w
    return total + current


def test_number_words_say_the_number():
    pairs = number_corpus(4000, seed=5)
    assert all(read_number(words) == int(digits) for words, digits in pairs)
    assert all(set(words) <= set(NUMBER_WORDS) for words, _ in pairs)
    assert {len(d) for _, d in pairs} == set(range(1, 13))
    # one output per input: the task is a function of the words
    seen = {}
    assert all(seen.setdefault(" ".join(w), d) == d for w, d in number_corpus(20000, seed=6))


def test_number_styles():
    plain = {"and": False, "a": False, "old": False, "hundreds": False}
    say = lambda n, **kw: " ".join(number_to_words(n, {**plain, **kw}))
    assert say(24105, old=True, a=True, **{"and": True}) == "four and twenty thousand one hundred and five"
    assert say(1984, hundreds=True, **{"and": True}) == "nineteen hundred and eighty four"
    assert say(1984) == "one thousand nine hundred eighty four"
    assert say(7003000012) == "seven billion three million twelve"
    assert say(0) == "zero" and say(100, a=True) == "a hundred" and say(1000000) == "one million"


def test_generator_is_deterministic_for_a_seed():
    assert number_corpus(50, 3) == number_corpus(50, 3) != number_corpus(50, 4)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = Seq2Seq(len(seq2seq.SRC), len(seq2seq.TGT), hidden_size=16, embed_size=8, attention=True)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    for i in range(30):  # a little training, so that decoding has preferences
        src, lengths, tgt_in, tgt_out = seq2seq.encode_pairs(number_corpus(32, 100 + i, digits=range(1, 5)))
        loss = F.cross_entropy(m(src, lengths, tgt_in).flatten(0, 1), tgt_out.flatten(), ignore_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m


def sequence_logprob(model, words, digits):
    """log P(digits, <eos> | words) by teacher forcing."""
    src, lengths, tgt_in, tgt_out = seq2seq.encode_pairs([(words, digits)])
    with torch.no_grad():
        logp = F.log_softmax(model(src, lengths, tgt_in), -1)
    return float(logp[0].gather(1, tgt_out[0][:, None]).sum())


def test_beam_of_width_one_is_greedy_and_scores_are_log_probabilities(model):
    pairs = number_corpus(15, 9, digits=range(1, 7))
    src, lengths, _, _ = seq2seq.encode_pairs(pairs)
    greedy, _ = seq2seq.greedy_decode(model, src, lengths)
    for (words, _), g in zip(pairs, greedy):
        out, logp = seq2seq.beam_search(model, words, 1)
        if len(g) < seq2seq.MAX_OUT:  # greedy ended with <eos>
            assert out == g
        for width in (1, 4):
            out, logp = seq2seq.beam_search(model, words, width)
            if len(out) < seq2seq.MAX_OUT:
                assert logp == pytest.approx(sequence_logprob(model, words, out), abs=1e-4)


def test_beam_search_finds_the_most_probable_output_when_wide_enough(model):
    """With a beam as wide as the number of outputs of up to 3 tokens, the search is exhaustive
    for them: nothing shorter than 3 digits is more probable than what it returns."""
    words = "seven".split()
    out, logp = seq2seq.beam_search(model, words, width=len(seq2seq.TGT) ** 2)
    candidates = [str(d) for d in range(10)] + [f"{a}{b}" for a in range(10) for b in range(10)]
    best = max(sequence_logprob(model, words, c) for c in candidates)
    assert logp >= best - 1e-5


def test_attention_weights_are_a_distribution_over_real_words(model):
    pairs = [("one".split(), "1"), ("nine hundred and five thousand".split(), "905000")]
    src, lengths, _, _ = seq2seq.encode_pairs(pairs)
    _, weights = seq2seq.greedy_decode(model, src, lengths)
    assert weights.shape[:2] == (2, seq2seq.MAX_OUT)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    assert (weights[0, :, 1:] == 0).all()  # padding gets no weight
