"""Task 1 from scratch: the character model in numpy, built only from rnn_ref's own layers.

The min-char-rnn of the lectures: one-hot characters (:func:`rnn_ref.vocab.one_hot`) into an
Elman RNN with a softmax output at every step, trained with truncated BPTT
(:func:`rnn_ref.bptt.truncated_bptt`), global-norm clipping (:func:`rnn_ref.layers.clip_global_norm`)
and Adam (:class:`rnn_ref.optim.Adam`). It reads B parallel streams of a smaller text, the
first ``chars`` characters of the course's training text, and is scored on the start of the
held-out text. No torch anywhere.
"""

import math

import numpy as np

from ..bptt import truncated_bptt
from ..elman import elman_forward
from ..init import cell_params, xavier_uniform
from ..layers import clip_global_norm, temporal_affine_forward, temporal_softmax_loss
from ..optim import Adam
from ..vocab import Vocabulary, one_hot
from .store import cached
from .text import course_split, fingerprint
from .training import decayed_lr, run_steps, seed_everything, smooth


def make_config(hidden_size=128, chars=200_000, seq_len=25, batch=16, lr=0.005, seconds=40,
                max_steps=20_000, seed=0):
    """A configuration of the numpy model (a dict)."""
    train, heldout = course_split()
    return {"task": "charlm_numpy", "data": fingerprint(train + heldout), "hidden_size": hidden_size,
            "chars": chars, "seq_len": seq_len, "batch": batch, "lr": lr, "seconds": seconds,
            "max_steps": max_steps, "seed": seed}


def init_params(V, H, rng):
    """Elman layer (Wx (V, H), Wh (H, H), b (H,)) and output layer (Wy (H, V), by (V,))."""
    params = cell_params("elman", V, H, rng)
    params["Wy"] = xavier_uniform((H, V), rng)
    params["by"] = np.zeros(V)
    return params


def bits_per_char(params, ids, V):
    """Held-out bits per character of ``ids`` (L,), read as one sequence from a zero state."""
    x, y = one_hot(ids[None, :-1], V), ids[None, 1:]
    hs, _ = elman_forward(x, np.zeros((1, params["Wh"].shape[0])), params["Wx"], params["Wh"], params["b"])
    scores, _ = temporal_affine_forward(hs, params["Wy"], params["by"])
    loss, _ = temporal_softmax_loss(scores, y)
    return loss / y.shape[1] / math.log(2)


def sample(params, vocab, prompt, length, temperature, rng):
    """``prompt`` followed by ``length`` characters drawn one at a time from the model."""
    V, H = len(vocab), params["Wh"].shape[0]
    h, out = np.zeros((1, H)), list(vocab.encode(prompt))
    for t in range(len(out) + length - 1):
        hs, _ = elman_forward(one_hot(np.array([[out[t]]]), V), h, params["Wx"], params["Wh"], params["b"])
        h = hs[:, -1]
        if t >= len(prompt) - 1:
            s = (h @ params["Wy"] + params["by"])[0] / temperature
            p = np.exp(s - s.max())
            out.append(int(rng.choice(V, p=p / p.sum())))
    return vocab.decode(np.array(out))


def train_numpy_charlm(config):
    """Train the numpy model for its budget; returns held-out bpc, curve and a sample."""
    train, heldout = course_split()
    vocab = Vocabulary.from_text(train + heldout)
    V, H, B, T = len(vocab), config["hidden_size"], config["batch"], config["seq_len"]
    seed_everything(config["seed"])
    rng = np.random.default_rng(config["seed"])
    params = init_params(V, H, rng)
    ids = vocab.encode(train[:config["chars"]])
    n = (len(ids) - 1) // B
    xs, ys = ids[:n * B].reshape(B, n), ids[1:n * B + 1].reshape(B, n)
    opt = Adam(config["lr"])
    carried = {"pos": 0, "h": np.zeros((B, H))}

    def step(i, progress):
        pos = carried["pos"]
        if pos + T > n:  # end of an epoch: start again from a zero state
            pos, carried["h"] = 0, np.zeros((B, H))
        x, y = one_hot(xs[:, pos:pos + T], V), ys[:, pos:pos + T]
        loss, grads, carried["h"] = truncated_bptt(params, x, y, carried["h"], T)
        carried["pos"] = pos + T
        grads, _ = clip_global_norm(grads, 5.0)
        opt.lr = decayed_lr(config["lr"], progress)
        opt.step(params, grads)
        return loss / T / math.log(2)  # the loss sums over T steps and averages over B streams

    bpcs, cpu, wall = run_steps(step, config["max_steps"], config["seconds"], "numpy char model")
    heldout_ids = vocab.encode(heldout[:10_000])
    return {"heldout_bpc": bits_per_char(params, heldout_ids, V), "train_bpc_curve": smooth(bpcs),
            "steps": len(bpcs), "cpu_seconds": cpu, "wall_seconds": wall,
            "sample": sample(params, vocab, "The ", 240, 0.8, rng)}


def results(retrain=False, results_dir=None):
    """The stored result of the book's numpy model."""
    return cached(make_config(), train_numpy_charlm, retrain, results_dir)
