"""Task 3: sequence labeling (many-to-many, aligned) where the right context decides the tag.

In the sentences of :func:`rnn_ref.apps.corpora.entity_corpus` an ambiguous word ("teddy",
"salt", "jordan", ...) is a person, a place or no entity depending on the words after it
("teddy roosevelt" / "teddy bears"). A left-to-right LSTM must tag that word before it has read
them; a bidirectional LSTM has read the whole sentence from both ends. Both are scored on the
same held-out sentences: token accuracy, accuracy on the ambiguous words, whole sentences.
"""

import numpy as np
import torch
from torch.nn import functional as F

from .corpora import TAGS, entity_corpus
from .models import Tagger
from .sentiment import WordVocab
from .store import cached
from .training import decayed_lr, run_steps, seed_everything, smooth

MODELS = {
    "unidirectional": dict(bidirectional=False),
    "bidirectional": dict(bidirectional=True),
}
SHOWN = 40  # test sentences whose predicted tags are stored, for the book's examples


def make_config(bidirectional=False, cell="lstm", lr=0.01, hidden_size=32, embed_size=32,
                batch=32, seconds=20, max_steps=1500, n_train=3000, n_test=1000, seed=0):
    """A tagging configuration (a dict). The test sentences come from seed + 1000."""
    return {"task": "tagging", "bidirectional": bidirectional, "cell": cell, "lr": lr,
            "hidden_size": hidden_size, "embed_size": embed_size, "batch": batch,
            "seconds": seconds, "max_steps": max_steps, "n_train": n_train, "n_test": n_test,
            "seed": seed}


def encode_tags(tag_lists, width):
    """Tag lists -> (N, width) int64 tensor of tag ids, -100 (ignored by the loss) at padding."""
    out = torch.full((len(tag_lists), width), -100, dtype=torch.long)
    for n, tags in enumerate(tag_lists):
        out[n, :len(tags)] = torch.tensor([TAGS.index(t) for t in tags])
    return out


@torch.no_grad()
def predict(model, vocab, sentences):
    """Predicted tags (a list of str lists) for a list of word lists."""
    ids, lengths = vocab.encode_batch(sentences)
    pred = model(ids, lengths).argmax(dim=2)
    return [[TAGS[int(k)] for k in pred[n, :len(s)]] for n, s in enumerate(sentences)]


def scores(predicted, corpus):
    """Token, ambiguous-word and sentence accuracy (a dict) of predicted tags against a corpus."""
    tokens = [p == t for pred, (_, tags, _) in zip(predicted, corpus) for p, t in zip(pred, tags)]
    heads = [pred[h] == tags[h] for pred, (_, tags, h) in zip(predicted, corpus)]
    sentences = [pred == tags for pred, (_, tags, _) in zip(predicted, corpus)]
    return {"token": float(np.mean(tokens)), "ambiguous word": float(np.mean(heads)),
            "sentence": float(np.mean(sentences))}


def train_tagger(config):
    """Train one tagger for its budget; returns accuracies, loss curve and example predictions."""
    seed_everything(config["seed"])
    train = entity_corpus(config["n_train"], config["seed"])
    test = entity_corpus(config["n_test"], config["seed"] + 1000)
    vocab = WordVocab([w for w, _, _ in train])
    model = Tagger(len(vocab), len(TAGS), config["cell"], config["hidden_size"],
                   config["embed_size"], config["bidirectional"])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    rng = np.random.default_rng(config["seed"])

    def step(i, progress):
        batch = [train[j] for j in rng.integers(len(train), size=config["batch"])]
        ids, lengths = vocab.encode_batch([w for w, _, _ in batch])
        scores_ = model(ids, lengths)
        loss = F.cross_entropy(scores_.reshape(-1, len(TAGS)),
                               encode_tags([t for _, t, _ in batch], ids.shape[1]).reshape(-1))
        for group in opt.param_groups:
            group["lr"] = decayed_lr(config["lr"], progress)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    losses, cpu, wall = run_steps(step, config["max_steps"], config["seconds"],
                                  "tagging " + ("bi" if config["bidirectional"] else "uni"))
    predicted = predict(model, vocab, [w for w, _, _ in test])
    return {"test_accuracy": scores(predicted, test), "loss_curve": smooth(losses),
            "steps": len(losses), "cpu_seconds": cpu, "wall_seconds": wall,
            "examples": [{"words": w, "tags": t, "predicted": p}
                         for (w, t, _), p in zip(test[:SHOWN], predicted[:SHOWN])]}


def results(retrain=False, results_dir=None):
    """Everything the book shows: {"unidirectional": result, "bidirectional": result}."""
    return {name: cached(make_config(**kw), train_tagger, retrain, results_dir)
            for name, kw in MODELS.items()}
