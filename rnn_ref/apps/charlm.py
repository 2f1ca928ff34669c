"""Task 1: a character-level language model of the course text (the slides' "hell" -> "ello").

An Elman RNN, an LSTM and a GRU (torch, one layer) read the training text as B parallel streams
cut into chunks of ``seq_len`` characters; the state is carried from one chunk to the next and
the gradient is cut between chunks (truncated BPTT). Each model trains for a fixed CPU budget
with Adam, gradient clipping and a learning rate that decays to zero over the last 30 % of the
budget. They are scored in bits per character on the held-out text, read as one long sequence,
next to the smoothed n-gram baselines of :mod:`rnn_ref.apps.ngram` computed on the same split.

A stronger LSTM (``STRONG``: dropout, chunks of 100 characters, a few minutes of CPU) is
compared with the strongest classical baselines (:func:`train_classical`: Kneser-Ney with one
and three discounts up to order 20, xz and bz2 as conditional coders), with the ordinary
evaluation and with dynamic evaluation (:func:`dynamic_evaluate_bpc`), a different protocol.
"""

import copy
import math
import time

import numpy as np
import torch
from torch.nn import functional as F

from .models import CharLM, detach_state
from .compressors import compressor_baselines
from .ngram import HashedKneserNey, copied_fraction, ngram_baselines
from .store import cached
from ..vocab import Vocabulary
from .text import course_split, fingerprint
from .training import clipped_step, decayed_lr, run_steps, seed_everything, smooth

# The configurations reported in the book: the same budget and sizes for the three cells.
MODELS = {
    "elman": dict(cell="elman", hidden_size=512, lr=0.002),
    "lstm": dict(cell="lstm", hidden_size=512, lr=0.006),
    "gru": dict(cell="gru", hidden_size=512, lr=0.006),
}
# The stronger model of the comparison with the classical baselines: its budget is a number of
# updates that takes about 5 minutes of one idle core (the stored result records the time).
STRONG = {
    "lstm, dropout": dict(cell="lstm", hidden_size=512, lr=0.005, seq_len=100, batch=32, dropout=0.2,
                          seconds=600, max_steps=1700, dynamic_lrs=(0.01, 0.03, 0.1, 0.3)),
}
TEMPERATURES = (0.5, 0.8, 1.0)
COPY_LENGTHS = (20, 50, 100)


def course_data():
    """(train_text, heldout_text, vocab) of the course text; see :mod:`rnn_ref.apps.text`."""
    train, heldout = course_split()
    return train, heldout, Vocabulary.from_text(train + heldout)


def make_config(cell="lstm", hidden_size=512, lr=0.006, embed_size=64, seq_len=50, batch=32,
                seconds=60, max_steps=100_000, seed=0, layers=1, dropout=0.0, dynamic_lrs=()):
    """A character-model configuration (a dict), tied to the text by its fingerprint.

    layers, dropout and dynamic_lrs (learning rates of dynamic evaluation, each reported, see
    :func:`dynamic_evaluate_bpc`; empty: none) enter the dict only when they are not the
    default, so the keys of the one-layer runs stay what they were.
    """
    train, heldout, _ = course_data()
    config = {"task": "charlm", "data": fingerprint(train + heldout), "cell": cell,
              "hidden_size": hidden_size, "embed_size": embed_size, "lr": lr, "seq_len": seq_len,
              "batch": batch, "seconds": seconds, "max_steps": max_steps, "seed": seed}
    extra = {"layers": layers, "dropout": dropout, "dynamic_lrs": list(dynamic_lrs)}
    defaults = {"layers": 1, "dropout": 0.0, "dynamic_lrs": []}
    config.update({k: v for k, v in extra.items() if v != defaults[k]})
    return config


def stream_batches(ids, batch):
    """Cut a long id array (L,) into ``batch`` parallel streams: inputs and targets (B, L // B)."""
    n = (len(ids) - 1) // batch
    x = torch.as_tensor(ids[:n * batch]).view(batch, n)
    y = torch.as_tensor(ids[1:n * batch + 1]).view(batch, n)
    return x, y


@torch.no_grad()
def evaluate_bpc(model, ids, chunk=2000):
    """Bits per character of ``ids`` (L,) read as one sequence, state carried across chunks."""
    model.eval()
    x, y = torch.as_tensor(ids[:-1])[None], torch.as_tensor(ids[1:])[None]
    total, state = 0.0, None
    for start in range(0, x.shape[1], chunk):
        scores, state = model(x[:, start:start + chunk], state)
        total += F.cross_entropy(scores[0], y[0, start:start + chunk], reduction="sum").item()
    model.train()
    return total / x.shape[1] / math.log(2)


def dynamic_evaluate_bpc(model, ids, lr, chunk=50):
    """Bits per character of ``ids`` (L,) under *dynamic evaluation* (Krause et al., 2018).

    The text is read in chunks of ``chunk`` characters, the state carried across chunks as in
    :func:`evaluate_bpc`. Each chunk is scored first, with the weights as they are, and then
    the model takes one SGD step of learning rate ``lr`` on that chunk's loss, so it adapts to
    the text it has already read (and been scored on), as a compressor does. A different
    protocol from :func:`evaluate_bpc`: the weights change during the evaluation. Works on a
    copy; ``model`` is left as it was.
    """
    model = copy.deepcopy(model)
    model.eval()  # no dropout; gradients still flow
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.as_tensor(ids[:-1])[None], torch.as_tensor(ids[1:])[None]
    total, state = 0.0, None
    for start in range(0, x.shape[1], chunk):
        scores, state = model(x[:, start:start + chunk], detach_state(state))
        loss = F.cross_entropy(scores[0], y[0, start:start + chunk], reduction="sum")
        total += loss.item()
        opt.zero_grad()
        (loss / scores.shape[1]).backward()
        opt.step()
    return total / x.shape[1] / math.log(2)


@torch.no_grad()
def sample(model, vocab, prompt, length, temperature, seed=0):
    """Generate ``length`` characters after ``prompt``, drawing from softmax(scores / temperature)."""
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    scores, state = model(torch.as_tensor(vocab.encode(prompt))[None])
    out = []
    for _ in range(length):
        probs = F.softmax(scores[0, -1] / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=gen)
        out.append(int(nxt))
        scores, state = model(nxt[None], state)
    model.train()
    return prompt + vocab.decode(out)


def train_charlm(config, model_path=None):
    """Train one character model for its budget; returns metrics, curve and samples (a dict).

    model_path: if given, the trained weights are also saved there (``torch.save`` of the
    state dict), for experiments; the stored results never include weights.
    """
    train, heldout, vocab = course_data()
    seed_everything(config["seed"])
    model = CharLM(len(vocab), config["cell"], config["hidden_size"], config["embed_size"],
                   config.get("layers", 1), config.get("dropout", 0.0))
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    x, y = stream_batches(vocab.encode(train), config["batch"])
    T = config["seq_len"]
    carried = {"pos": 0, "state": None}

    def step(i, progress):
        pos = carried["pos"]
        if pos + T > x.shape[1]:  # end of an epoch: start again from a zero state
            pos, carried["state"] = 0, None
        scores, state = model(x[:, pos:pos + T], detach_state(carried["state"]))
        carried["pos"], carried["state"] = pos + T, state
        loss = F.cross_entropy(scores.reshape(-1, len(vocab)), y[:, pos:pos + T].reshape(-1))
        for group in opt.param_groups:
            group["lr"] = decayed_lr(config["lr"], progress)
        clipped_step(model, opt, loss)
        return loss.item() / math.log(2)

    bpcs, cpu, wall = run_steps(step, config["max_steps"], config["seconds"], f"char {config['cell']}")
    if model_path is not None:
        torch.save(model.state_dict(), model_path)
    extra = {}
    if config.get("dynamic_lrs"):
        cpu0 = time.process_time()
        extra["dynamic_heldout_bpc"] = {str(lr): dynamic_evaluate_bpc(model, vocab.encode(heldout), lr, T)
                                        for lr in config["dynamic_lrs"]}
        extra["dynamic_cpu_seconds"] = time.process_time() - cpu0
    return {
        **extra,
        "heldout_bpc": evaluate_bpc(model, vocab.encode(heldout)),
        "train_bpc_curve": smooth(bpcs),
        "steps": len(bpcs), "chars_seen": len(bpcs) * T * config["batch"],
        "cpu_seconds": cpu, "wall_seconds": wall,
        "parameters": sum(p.numel() for p in model.parameters()),
        "samples": {str(t): sample(model, vocab, "The ", 240, t, seed=config["seed"]) for t in TEMPERATURES},
    }


def train_baselines(config):
    """Held-out bits per character of every n-gram baseline of ``config`` (a dict)."""
    train, heldout, vocab = course_data()
    return {"rows": ngram_baselines(train, heldout, len(vocab), range(1, config["max_order"] + 1),
                                    tuple(config["ks"]))}


def baseline_config():
    """The n-gram baselines' configuration: orders 1 .. 6, additive k in {1, 0.1, 0.01}."""
    train, heldout, _ = course_data()
    return {"task": "ngram", "data": fingerprint(train + heldout), "max_order": 6, "ks": [1.0, 0.1, 0.01]}


def baselines(retrain=False, results_dir=None):
    """The stored n-gram baselines (computed in about 5 s when missing)."""
    return cached(baseline_config(), train_baselines, retrain, results_dir)


def classical_config(max_order=20):
    """The strongest classical baselines' configuration: Kneser-Ney up to ``max_order``, compressors."""
    train, heldout, _ = course_data()
    return {"task": "classical", "data": fingerprint(train + heldout), "max_order": max_order}


def train_classical(config):
    """Held-out bits per character of long-order Kneser-Ney models and of xz and bz2.

    Rows {"smoothing": "kneser-ney" (one discount) or "modified kneser-ney" (three), "n", "bpc"}
    for n = 1 .. max_order, and {"compressor", "bpc", "alone_bpc"} (see
    :mod:`~rnn_ref.apps.compressors`). All on the course split, computed in the same run. Also
    "copied_fraction": {L: the fraction of held-out characters inside a stretch of L or more
    characters that occurs verbatim in the training text}, for L in COPY_LENGTHS.
    """
    train, heldout, vocab = course_data()
    codes = lambda text: np.array([ord(c) for c in text])
    rows, seconds = [], {}
    for name, modified in [("kneser-ney", False), ("modified kneser-ney", True)]:
        cpu0 = time.process_time()
        model = HashedKneserNey(codes(train), config["max_order"], len(vocab), modified)
        bpc = model.bits_per_char(codes(heldout))
        seconds[name] = time.process_time() - cpu0
        rows += [{"smoothing": name, "n": n, "bpc": b} for n, b in bpc.items()]
    copied = {str(n): copied_fraction(codes(train), codes(heldout), n) for n in COPY_LENGTHS}
    return {"rows": rows, "compressors": compressor_baselines(train, heldout), "cpu_seconds": seconds,
            "copied_fraction": copied}


def classical(retrain=False, results_dir=None):
    """The stored classical baselines of :func:`train_classical` (about a minute when missing)."""
    return cached(classical_config(), train_classical, retrain, results_dir)


def results(retrain=False, results_dir=None):
    """Everything the book shows.

    {"baselines": [...] (orders <= 6), "classical": {"rows", "compressors"} (Kneser-Ney up to
    order 20, xz, bz2), "models": {name: result} (60 s each), "strong": {name: result}}.
    """
    return {
        "baselines": baselines(retrain, results_dir)["rows"],
        "classical": classical(retrain, results_dir),
        "models": {name: cached(make_config(**kw), train_charlm, retrain, results_dir)
                   for name, kw in MODELS.items()},
        "strong": {name: cached(make_config(**kw), train_charlm, retrain, results_dir)
                   for name, kw in STRONG.items()},
    }
