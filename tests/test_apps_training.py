"""rnn_ref.apps training: every task's tiny model learns, and a stored result is reproduced."""

import json

import numpy as np
import pytest

from rnn_ref.apps import charlm, charlm_numpy, memory, sentiment, seq2seq, tagging
from rnn_ref.apps.store import cached, result_path

TINY = {  # a few steps of a small model per task, each stopped by its step count
    "charlm": (charlm.train_charlm,
               charlm.make_config("gru", hidden_size=32, embed_size=16, lr=0.01, seq_len=20, batch=8, max_steps=40),
               "train_bpc_curve"),
    "charlm_numpy": (charlm_numpy.train_numpy_charlm,
                     charlm_numpy.make_config(hidden_size=32, chars=4000, seq_len=10, batch=4, lr=0.02, max_steps=40),
                     "train_bpc_curve"),
    "sentiment": (sentiment.train_sentiment,
                  sentiment.make_config("lstm", hidden_size=16, embed_size=8, max_steps=40, n_train=300, n_test=60),
                  "loss_curve"),
    "tagging": (tagging.train_tagger,
                tagging.make_config(True, hidden_size=8, embed_size=8, max_steps=40, n_train=200, n_test=50),
                "loss_curve"),
    "python tagging": (tagging.train_tagger,
                       tagging.make_config(False, "python", hidden_size=8, embed_size=8, max_steps=40),
                       "loss_curve"),
    "recall": (memory.train_recall, memory.recall_config("elman", gap=3, max_steps=40), "loss_curve"),
    "parity": (memory.train_parity, memory.parity_config("lstm", train_length=6, max_steps=40), "loss_curve"),
    "charlm stacked": (charlm.train_charlm,
                       charlm.make_config("lstm", hidden_size=32, embed_size=16, lr=0.01, seq_len=20, batch=8,
                                          max_steps=40, layers=2, dropout=0.1),
                       "train_bpc_curve"),
    "seq2seq": (seq2seq.train_seq2seq,
                seq2seq.make_config(True, hidden_size=16, embed_size=8, lr=0.01, max_steps=40, n_valid=20,
                                    n_test=40, n_beam=8),
                "loss_curve"),
}


@pytest.mark.parametrize("task", list(TINY))
def test_tiny_model_loss_goes_down(task):
    train, config, curve = TINY[task]
    result = train(config)
    losses = result[curve]
    assert result["steps"] == config["max_steps"] == len(losses)
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])


# Stored by ``cached`` like every result the book shows; small enough to retrain in seconds.
REPRODUCED = sentiment.make_config("gru", hidden_size=16, embed_size=8, max_steps=60, n_train=400, n_test=120)


def test_stored_result_is_reproduced(tmp_path):
    stored_file = result_path(REPRODUCED)
    assert stored_file.exists(), "run cached(REPRODUCED, sentiment.train_sentiment) and commit it"
    stored = json.loads(stored_file.read_text())
    fresh = cached(REPRODUCED, sentiment.train_sentiment, retrain=True, results_dir=tmp_path)
    assert fresh["key"] == stored["key"] and fresh["steps"] == stored["steps"]
    assert fresh["test_accuracy"] == stored["test_accuracy"]
    assert np.allclose(fresh["loss_curve"], stored["loss_curve"], rtol=1e-3)
    for sentence, probs in stored["examples"].items():
        assert np.allclose(fresh["examples"][sentence], probs, atol=1e-3)


def test_every_result_the_book_shows_is_stored():
    """The book builds from stored results: nothing it asks for may need training."""
    configs = [charlm.baseline_config()] + [charlm.make_config(**kw) for kw in charlm.MODELS.values()]
    configs += [charlm_numpy.make_config()]
    configs += [sentiment.make_config(**kw) for kw in sentiment.MODELS.values()]
    configs += [tagging.make_config(corpus=corpus, **sizes, **kw)
                for corpus, sizes in tagging.CORPORA.items() for kw in tagging.MODELS.values()]
    configs += [memory.parity_config(cell) for cell in memory.CELLS]
    configs += [charlm.classical_config()] + [charlm.make_config(**kw) for kw in charlm.STRONG.values()]
    configs += [seq2seq.make_config(**kw) for kw in seq2seq.MODELS.values()]
    missing = [c for c in configs if not result_path(c).exists()]
    for cell in memory.CELLS:  # the sweep's stored gaps, up to where it stops
        rows = []
        for gap in memory.GAPS:
            path = result_path(memory.recall_config(cell, gap))
            if not path.exists():
                missing.append(memory.recall_config(cell, gap))
                break
            rows.append(json.loads(path.read_text()))
            if len(rows) >= 2 and not rows[-1]["solved"] and not rows[-2]["solved"]:
                break
    assert not missing, f"not stored: {missing}"


def test_dynamic_evaluation_adapts_to_the_text_and_leaves_the_model_alone():
    import torch

    from rnn_ref.apps.models import CharLM

    torch.manual_seed(0)
    model = CharLM(20, "lstm", 32, 8, layers=2, dropout=0.3)
    ids = np.tile(np.random.default_rng(0).integers(1, 20, size=10), 80)  # a phrase said 80 times
    before = [p.detach().clone() for p in model.parameters()]
    static = charlm.evaluate_bpc(model, ids)
    dynamic = charlm.dynamic_evaluate_bpc(model, ids, lr=1.0, chunk=20)
    assert dynamic < static - 0.8  # it learns the repeated phrase while reading it
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert charlm.evaluate_bpc(model, ids) == static and model.training
