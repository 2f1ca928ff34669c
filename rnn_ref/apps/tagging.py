"""Task 3: sequence labeling (many-to-many, aligned) where the right context decides the tag.

Two corpora, a left-to-right LSTM against a bidirectional LSTM on each:

- ``"entities"``: the sentences of :func:`rnn_ref.apps.corpora.entity_corpus`, where an
  ambiguous word ("teddy", "salt", "jordan", ...) is a person, a place or no entity depending on
  the words after it ("teddy roosevelt" / "teddy bears"); tagged word by word;
- ``"python"``: lines of real standard-library source tagged character by character with token
  types from :mod:`tokenize` (:mod:`rnn_ref.apps.pytags`), where the first letters of a name
  do not tell a keyword from a called or a plain name.

A left-to-right tagger must commit at each position before it has read what follows; a
bidirectional one has read the whole sequence from both ends. Both are scored on the same
held-out sequences: per token, on the *focus* positions where the right context matters (the
ambiguous word; the first character of every name), and on whole sequences.
"""

import numpy as np
import torch
from torch.nn import functional as F

from .corpora import TAGS, entity_corpus
from .models import Tagger
from .pytags import PY_TAGS, TEST_MODULES, TRAIN_MODULES, module_source, python_lines
from .sentiment import WordVocab
from .store import cached
from .text import fingerprint
from .training import decayed_lr, run_steps, seed_everything, smooth

MODELS = {  # name -> configuration overrides; each corpus is tagged by both directions
    "unidirectional": dict(bidirectional=False),
    "bidirectional": dict(bidirectional=True),
}
CORPORA = {  # corpus -> its sizes and budget, and the name of its focus positions
    "entities": dict(hidden_size=32, embed_size=32, seconds=20, max_steps=1500),
    "python": dict(hidden_size=64, embed_size=16, seconds=30, max_steps=3000),
}
FOCUS = {"entities": "ambiguous word", "python": "first letter of a name"}
SHOWN = {"entities": 40, "python": 200}  # test sequences whose predictions are stored (for examples)


def make_config(bidirectional=False, corpus="entities", cell="lstm", lr=0.01, hidden_size=32,
                embed_size=32, batch=32, seconds=20, max_steps=1500, n_train=3000, n_test=1000,
                seed=0):
    """A tagging configuration (a dict). Generated test sentences come from seed + 1000; the
    python corpus is fixed (n_train, n_test unused) and its text's fingerprint is included."""
    config = {"task": "tagging", "corpus": corpus, "bidirectional": bidirectional, "cell": cell,
              "lr": lr, "hidden_size": hidden_size, "embed_size": embed_size, "batch": batch,
              "seconds": seconds, "max_steps": max_steps, "seed": seed}
    if corpus == "entities":
        config.update(n_train=n_train, n_test=n_test)
    else:
        config["data"] = fingerprint("".join(module_source(m) for m in TRAIN_MODULES + TEST_MODULES))
    return config


def load_corpus(config):
    """(train, test, tagset): lists of (tokens, tags, focus positions); tagset a sequence of tags."""
    if config["corpus"] == "entities":
        make = lambda n, seed: [(w, t, [h]) for w, t, h in entity_corpus(n, seed)]
        return make(config["n_train"], config["seed"]), make(config["n_test"], config["seed"] + 1000), TAGS
    make = lambda modules: [(list(line), list(tags), [i for i, t in enumerate(tags)
                                                     if t in "kcn" and (i == 0 or tags[i - 1] != t)])
                            for line, tags in python_lines(modules)]
    return make(TRAIN_MODULES), make(TEST_MODULES), PY_TAGS


def encode_tags(tag_lists, width, tagset):
    """Tag lists -> (N, width) int64 tensor of tag ids, -100 (ignored by the loss) at padding."""
    out = torch.full((len(tag_lists), width), -100, dtype=torch.long)
    for n, tags in enumerate(tag_lists):
        out[n, :len(tags)] = torch.tensor([tagset.index(t) for t in tags])
    return out


@torch.no_grad()
def predict(model, vocab, sequences, tagset, batch=256):
    """Predicted tags (a list of tag lists) for a list of token lists."""
    out = []
    for start in range(0, len(sequences), batch):
        chunk = sequences[start:start + batch]
        ids, lengths = vocab.encode_batch(chunk)
        pred = model(ids, lengths).argmax(dim=2)
        out += [[tagset[int(k)] for k in pred[n, :len(s)]] for n, s in enumerate(chunk)]
    return out


def scores(predicted, corpus):
    """Accuracy per token, at the focus positions and per whole sequence (a dict)."""
    tokens = [p == t for pred, (_, tags, _) in zip(predicted, corpus) for p, t in zip(pred, tags)]
    focus = [pred[i] == tags[i] for pred, (_, tags, where) in zip(predicted, corpus) for i in where]
    whole = [pred == tags for pred, (_, tags, _) in zip(predicted, corpus)]
    return {"token": float(np.mean(tokens)), "focus": float(np.mean(focus)), "sequence": float(np.mean(whole))}


def train_tagger(config):
    """Train one tagger for its budget; returns accuracies, loss curve and example predictions."""
    seed_everything(config["seed"])
    train, test, tagset = load_corpus(config)
    vocab = WordVocab([w for w, _, _ in train])
    model = Tagger(len(vocab), len(tagset), config["cell"], config["hidden_size"],
                   config["embed_size"], config["bidirectional"])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    rng = np.random.default_rng(config["seed"])

    def step(i, progress):
        batch = [train[j] for j in rng.integers(len(train), size=config["batch"])]
        ids, lengths = vocab.encode_batch([w for w, _, _ in batch])
        targets = encode_tags([t for _, t, _ in batch], ids.shape[1], tagset)
        loss = F.cross_entropy(model(ids, lengths).reshape(-1, len(tagset)), targets.reshape(-1))
        for group in opt.param_groups:
            group["lr"] = decayed_lr(config["lr"], progress)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    direction = "bi" if config["bidirectional"] else "uni"
    losses, cpu, wall = run_steps(step, config["max_steps"], config["seconds"],
                                  f"tagging {config['corpus']} {direction}")
    predicted = predict(model, vocab, [w for w, _, _ in test], tagset)
    shown = SHOWN[config["corpus"]]
    join = "".join if config["corpus"] == "python" else list  # characters are stored as strings
    return {"test_accuracy": scores(predicted, test), "loss_curve": smooth(losses),
            "steps": len(losses), "cpu_seconds": cpu, "wall_seconds": wall,
            "examples": [{"tokens": join(w), "tags": join(t), "predicted": join(p)}
                         for (w, t, _), p in zip(test[:shown], predicted[:shown])]}


def results(retrain=False, results_dir=None):
    """Everything the book shows: {corpus: {"unidirectional": result, "bidirectional": result}}."""
    return {corpus: {name: cached(make_config(corpus=corpus, **sizes, **kw), train_tagger, retrain, results_dir)
                     for name, kw in MODELS.items()}
            for corpus, sizes in CORPORA.items()}
