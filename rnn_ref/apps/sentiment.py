"""Task 2: sentiment classification (many-to-one) where word order decides the label.

The corpus of :func:`rnn_ref.apps.corpora.sentiment_corpus` mixes six constructions in equal
shares. A bag-of-words logistic regression sees only which words occur, so it can learn the
"plain" reviews and nothing else; an Elman RNN, an LSTM and a GRU read the words in order and
are scored on the same held-out reviews, overall and per construction. For the LSTM the gate
activations over example sentences are kept, and for every model the probability of
"positive" after each prefix of those sentences.
"""

import numpy as np
import torch
from torch.nn import functional as F

from .corpora import CONSTRUCTIONS, sentiment_corpus
from .models import BagOfWords, Classifier
from .store import cached
from .training import clipped_step, decayed_lr, run_steps, seed_everything, smooth

MODELS = {
    "bag of words": dict(model="bow", lr=0.05),
    "elman": dict(model="elman", lr=0.003),
    "lstm": dict(model="lstm", lr=0.01),
    "gru": dict(model="gru", lr=0.01),
}
EXAMPLES = [
    "the film was not , despite what the trailer suggested , bad",
    "the acting was great but the ending was dull",
    "the plot was very moving and slightly tedious",
    "the music was not long and it was boring",
]


class WordVocab:
    """Word <-> id, id 0 reserved for padding and 1 for unknown words."""

    def __init__(self, sentences):
        words = sorted({w for s in sentences for w in s})
        self.words = ["<pad>", "<unk>"] + words
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def encode_batch(self, sentences):
        """List of word lists -> (ids (N, T) padded with 0, lengths (N,)) as torch tensors."""
        lengths = torch.tensor([len(s) for s in sentences])
        ids = torch.zeros(len(sentences), int(lengths.max()), dtype=torch.long)
        for n, s in enumerate(sentences):
            ids[n, :len(s)] = torch.tensor([self.index.get(w, 1) for w in s])
        return ids, lengths


def make_config(model="lstm", lr=0.01, hidden_size=64, embed_size=32, batch=64, seconds=30,
                max_steps=3000, n_train=6000, n_test=3000, seed=0):
    """A sentiment configuration (a dict). The test reviews come from seed + 1000."""
    return {"task": "sentiment", "model": model, "lr": lr, "hidden_size": hidden_size,
            "embed_size": embed_size, "batch": batch, "seconds": seconds, "max_steps": max_steps,
            "n_train": n_train, "n_test": n_test, "seed": seed}


def build_model(config, vocab_size):
    if config["model"] == "bow":
        return BagOfWords(vocab_size, 2)
    return Classifier(vocab_size, 2, config["model"], config["hidden_size"], config["embed_size"])


def lstm_gates(lstm, inputs):
    """Gate activations of a one-layer ``nn.LSTM`` over one sequence, in torch's order i, f, g, o.

    inputs (T, D). Returns a dict of numpy arrays (T, H): "i", "f", "g", "o" and the cell "c".
    """
    H = lstm.hidden_size
    h, c = torch.zeros(H), torch.zeros(H)
    rows = {k: [] for k in "ifgoc"}
    for x in inputs:
        a = lstm.weight_ih_l0 @ x + lstm.bias_ih_l0 + lstm.weight_hh_l0 @ h + lstm.bias_hh_l0
        i, f, g, o = torch.sigmoid(a[:H]), torch.sigmoid(a[H:2 * H]), torch.tanh(a[2 * H:3 * H]), torch.sigmoid(a[3 * H:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        for k, v in zip("ifgoc", (i, f, g, o, c)):
            rows[k].append(v)
    return {k: torch.stack(v).numpy() for k, v in rows.items()}


@torch.no_grad()
def accuracy_by_construction(model, vocab, corpus):
    """Accuracy on ``corpus`` overall and per construction: a dict name -> fraction correct."""
    ids, lengths = vocab.encode_batch([w for w, _, _ in corpus])
    pred = model(ids, lengths).argmax(dim=1).numpy()
    labels = np.array([y for _, y, _ in corpus])
    names = np.array([c for _, _, c in corpus])
    out = {"overall": float(np.mean(pred == labels))}
    for c in CONSTRUCTIONS:
        out[c] = float(np.mean(pred[names == c] == labels[names == c]))
    return out


@torch.no_grad()
def prefix_probabilities(model, vocab, sentence):
    """P(positive) after each word of ``sentence`` (a str): list of floats, one per word."""
    words = sentence.split()
    prefixes = [words[:t] for t in range(1, len(words) + 1)]
    ids, lengths = vocab.encode_batch(prefixes)
    return F.softmax(model(ids, lengths), dim=1)[:, 1].tolist()


def train_sentiment(config):
    """Train one sentiment model for its budget; returns accuracies, curve and examples."""
    seed_everything(config["seed"])
    train = sentiment_corpus(config["n_train"], config["seed"])
    test = sentiment_corpus(config["n_test"], config["seed"] + 1000)
    vocab = WordVocab([w for w, _, _ in train])
    model = build_model(config, len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    rng = np.random.default_rng(config["seed"])

    def step(i, progress):
        batch = [train[j] for j in rng.integers(len(train), size=config["batch"])]
        ids, lengths = vocab.encode_batch([w for w, _, _ in batch])
        loss = F.cross_entropy(model(ids, lengths), torch.tensor([y for _, y, _ in batch]))
        for group in opt.param_groups:
            group["lr"] = decayed_lr(config["lr"], progress)
        clipped_step(model, opt, loss)
        return loss.item()

    losses, cpu, wall = run_steps(step, config["max_steps"], config["seconds"], f"sentiment {config['model']}")
    result = {
        "test_accuracy": accuracy_by_construction(model, vocab, test),
        "train_accuracy": accuracy_by_construction(model, vocab, train)["overall"],
        "loss_curve": smooth(losses), "steps": len(losses), "cpu_seconds": cpu, "wall_seconds": wall,
        "examples": {s: prefix_probabilities(model, vocab, s) for s in EXAMPLES},
    }
    if config["model"] == "lstm":
        with torch.no_grad():
            result["gates"] = {s: {k: v.tolist() for k, v in lstm_gates(
                model.rnn, model.embed(vocab.encode_batch([s.split()])[0][0])).items()} for s in EXAMPLES[:2]}
    return result


def results(retrain=False, results_dir=None):
    """Everything the book shows: {name: result} for the bag of words and the three RNNs."""
    return {name: cached(make_config(**kw), train_sentiment, retrain, results_dir)
            for name, kw in MODELS.items()}
