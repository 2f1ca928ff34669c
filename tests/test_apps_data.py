"""rnn_ref.apps data: the course text split, generated corpora, n-gram baselines, result keys."""

import math

import numpy as np
import pytest

from rnn_ref.apps import corpora
from rnn_ref.apps.ngram import AdditiveNGram, KneserNeyNGram, NGramCounts, bits_per_char
from rnn_ref.apps.store import cached, config_key
from rnn_ref.apps.text import course_split, course_text


def test_course_split_is_fixed_and_disjoint():
    train, heldout = course_split()
    assert train + heldout == course_text()
    assert train.endswith("\n") and 0.09 < len(heldout) / len(train + heldout) < 0.11
    assert course_split() == (train, heldout)


@pytest.mark.parametrize("make", [
    lambda seed: corpora.sentiment_corpus(60, seed),
    lambda seed: corpora.entity_corpus(60, seed),
    lambda seed: [a.tolist() for a in corpora.parity_data(8, 12, seed)],
    lambda seed: [a.tolist() for a in corpora.recall_data(8, 7, seed)],
], ids=["sentiment", "entities", "parity", "recall"])
def test_generators_are_deterministic_for_a_seed(make):
    assert make(3) == make(3)
    assert make(3) != make(4)


def test_sentiment_constructions_defeat_a_bag_of_words():
    corpus = corpora.sentiment_corpus(600, 0)
    assert {c for _, _, c in corpus} == set(corpora.CONSTRUCTIONS)
    classes = {w: name for name in ["POSITIVE", "NEGATIVE", "STRONG", "WEAK", "NEUTRAL", "NOUNS"]
               for w in getattr(corpora, name)}
    labels_of_bag = {}  # bags of word classes (every positive word alike, and so on)
    for words, label, construction in corpus:
        bag = tuple(sorted(classes.get(w, w) for w in words))
        labels_of_bag.setdefault((construction, bag), set()).add(label)
    # in these constructions the same bag occurs with both labels
    for c in ["negation scope", "but clause", "intensifier"]:
        assert any(len(v) == 2 for (name, _), v in labels_of_bag.items() if name == c), c
    # in these, "not" flips the opinion word: its polarity in "plain" is the opposite of the label
    for words, label, construction in corpus:
        if construction in ("negation", "distractor"):
            opinion = words[-1]
            assert "not" in words and (opinion in corpora.POSITIVE) == (label == 0)


def test_entity_tags_need_the_right_context():
    corpus = corpora.entity_corpus(300, 0)
    tags_after_left_context = {}
    for words, tags, head in corpus:
        tags_after_left_context.setdefault(words[head], set()).add(tags[head])
    assert all(len(t) == 2 for t in tags_after_left_context.values())


def test_parity_and_recall_labels():
    bits, parity = corpora.parity_data(5, 30, 1)
    assert np.array_equal(parity[:, -1], bits.sum(axis=1) % 2)
    x, y = corpora.recall_data(5, 9, 1)
    assert x.shape == (5, 11) and np.array_equal(x[:, 0], y) and (x[:, -1] == 8).all()
    assert ((x[:, 1:-1] >= 4) & (x[:, 1:-1] < 8)).all()


@pytest.mark.parametrize("model", ["additive", "kneser-ney"])
def test_ngram_probabilities_sum_to_one(model):
    text = "the cat sat on the mat. the hat. " * 3
    alphabet = sorted(set(text)) + ["#"]  # one character never seen
    counts = NGramCounts(text, 4)
    m = AdditiveNGram(counts, 4, len(alphabet), 0.1) if model == "additive" else KneserNeyNGram(counts, 4, len(alphabet))
    for history in ["", "t", "th", "the", "xyz", " ma"]:
        assert math.isclose(sum(m.prob(history, c) for c in alphabet), 1.0, rel_tol=1e-9)
    assert bits_per_char(m, "the mat", 4) < math.log2(len(alphabet))


def test_cached_stores_under_the_config_key(tmp_path):
    calls = []
    train = lambda config: calls.append(config) or {"value": 1 / 3}
    config = {"task": "unit", "size": 2}
    first = cached(config, train, results_dir=tmp_path)
    again = cached(config, train, results_dir=tmp_path)
    assert len(calls) == 1 and first == again and first["key"] == config_key(config)
    assert (tmp_path / f"unit-{config_key(config)}.json").exists()
    cached(config, train, retrain=True, results_dir=tmp_path)
    assert len(calls) == 2
    assert config_key({"size": 2, "task": "unit"}) == config_key(config) != config_key({**config, "size": 3})


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_chrono_initialisation_opens_the_keep_gate(cell):
    import torch

    from rnn_ref.apps.models import recurrent_layer

    torch.manual_seed(0)
    H = 16
    layer = recurrent_layer(cell, 4, H, bidirectional=True, chrono_max=100)
    for suffix in ["_l0", "_l0_reverse"]:
        total = getattr(layer, "bias_ih" + suffix) + getattr(layer, "bias_hh" + suffix)
        keep = total[H:2 * H]  # LSTM forget gate f, GRU update gate z
        assert (keep >= 0).all() and (keep <= np.log(99) + 1e-6).all() and keep.std() > 0.5
        if cell == "lstm":
            assert torch.allclose(total[:H], -keep)  # the input gate starts closed as f opens
