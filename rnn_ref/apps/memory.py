"""Task 4: parity and long-range memory, for the Elman RNN, the LSTM and the GRU.

**Parity.** Each model reads random bits and outputs the parity of the bits so far at every step
(trained on strings of 20 bits), then is tested on strings up to 25 times longer: a recurrent
model carries one bit of state and needs no fixed window, so what it learned on short strings
holds on long ones when it has learned the rule.

**Recall across a gap.** A symbol, then ``gap`` random distractors, then a question mark: the
model must answer the first symbol (:func:`rnn_ref.apps.corpora.recall_data`). Each cell is
trained afresh for every gap, for up to 40 s of CPU; a gap counts as solved when held-out
accuracy reaches 95 % (chance is 25 %). The gated cells start with the gate that keeps the
state biased open (the chrono initialisation of
:func:`rnn_ref.apps.models.recurrent_layer`). The gradient of the loss with respect to every
hidden state h_t, measured before and after training, shows why the Elman RNN fails: its
gradient shrinks geometrically with the distance to the loss.
"""

import numpy as np
import torch
from torch.nn import functional as F

from .corpora import parity_data, recall_data
from .models import Classifier, Tagger
from .store import cached
from .training import clipped_step, run_steps, seed_everything, smooth

CELLS = ("elman", "lstm", "gru")
GAPS = (5, 10, 20, 40, 80, 160)
PARITY_TEST_LENGTHS = (10, 20, 50, 100, 200, 500)
SOLVED = 0.95
SYMBOLS, DISTRACTORS = 4, 4


# ------------------------------------------------------------------------------------- recall

def recall_config(cell="lstm", gap=10, hidden_size=32, embed_size=8, lr=0.003, batch=64,
                  seconds=40, max_steps=20_000, seed=0):
    """A recall configuration (a dict). Gated cells start with the chrono initialisation for
    memories up to the longest gap (see :func:`rnn_ref.apps.models.recurrent_layer`)."""
    return {"task": "recall", "cell": cell, "gap": gap, "hidden_size": hidden_size,
            "embed_size": embed_size, "lr": lr, "batch": batch, "seconds": seconds,
            "max_steps": max_steps, "seed": seed, "chrono_max": None if cell == "elman" else max(GAPS)}


def recall_model(config):
    return Classifier(SYMBOLS + DISTRACTORS + 1, SYMBOLS, config["cell"], config["hidden_size"],
                      config["embed_size"], config["chrono_max"])


def state_gradient_norms(model, x, y):
    """||dL/dh_t|| for every step t (mean over the batch), running the layer one step at a time.

    x (N, T) ids, y (N,) labels; the loss reads only the last state. Returns a list of T floats.
    """
    inputs = model.embed(torch.as_tensor(x))
    state, hs = None, []
    for t in range(inputs.shape[1]):
        _, state = model.rnn(inputs[:, t:t + 1], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    loss = F.cross_entropy(model.out(hs[-1][0]), torch.as_tensor(y))
    loss.backward()
    model.zero_grad()
    return [float(h.grad[0].norm(dim=1).mean()) for h in hs]


def train_recall(config):
    """Train one model on one gap; returns held-out accuracy, loss curve and the gradient norms
    ||dL/dh_t|| (t = 1 .. gap + 2) before and after training."""
    seed_everything(config["seed"])
    model = recall_model(config)
    gx, gy = recall_data(256, config["gap"], config["seed"] + 2000)
    grad_norms = state_gradient_norms(model, gx, gy)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    lengths = torch.full((config["batch"],), config["gap"] + 2)

    def step(i, progress):
        x, y = recall_data(config["batch"], config["gap"], config["seed"] * 1_000_003 + i)
        loss = F.cross_entropy(model(torch.as_tensor(x), lengths), torch.as_tensor(y))
        clipped_step(model, opt, loss)
        return loss.item()

    losses, cpu, wall = run_steps(step, config["max_steps"], config["seconds"],
                                  f"recall {config['cell']} gap {config['gap']}", stop_loss=0.01)
    tx, ty = recall_data(1000, config["gap"], config["seed"] + 1000)
    with torch.no_grad():
        pred = model(torch.as_tensor(tx), torch.full((len(tx),), config["gap"] + 2)).argmax(dim=1)
    accuracy = float((pred.numpy() == ty).mean())
    return {"test_accuracy": accuracy, "solved": accuracy >= SOLVED, "loss_curve": smooth(losses),
            "steps": len(losses), "cpu_seconds": cpu, "wall_seconds": wall,
            "initial_gradient_norms": grad_norms,
            "trained_gradient_norms": state_gradient_norms(model, gx, gy)}


def recall_sweep(cell, retrain=False, results_dir=None):
    """Recall results of one cell for increasing gaps, stopping after two unsolved gaps in a row
    (longer gaps would fail too, and each failure costs a full time budget)."""
    rows = []
    for gap in GAPS:
        rows.append(cached(recall_config(cell, gap), train_recall, retrain, results_dir))
        if len(rows) >= 2 and not rows[-1]["solved"] and not rows[-2]["solved"]:
            break
    return rows


def longest_solved(rows):
    """The longest gap solved in a list of recall results ordered by gap, counting only gaps
    solved together with every shorter one; 0 when the shortest is not solved."""
    best = 0
    for r in rows:
        if not r["solved"]:
            break
        best = r["config"]["gap"]
    return best


# ------------------------------------------------------------------------------------- parity

def parity_config(cell="lstm", train_length=20, hidden_size=16, lr=0.01, batch=64, seconds=15,
                  max_steps=2000, seed=0):
    """A parity configuration (a dict)."""
    return {"task": "parity", "cell": cell, "train_length": train_length,
            "hidden_size": hidden_size, "lr": lr, "batch": batch, "seconds": seconds,
            "max_steps": max_steps, "seed": seed}


def train_parity(config):
    """Train one model on running parity; returns accuracy of the final parity per test length."""
    seed_everything(config["seed"])
    model = Tagger(2, 2, config["cell"], config["hidden_size"], embed_size=4)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    T = config["train_length"]
    lengths = torch.full((config["batch"],), T)

    def step(i, progress):
        bits, parity = parity_data(config["batch"], T, config["seed"] * 1_000_003 + i)
        scores = model(torch.as_tensor(bits), lengths)
        loss = F.cross_entropy(scores.reshape(-1, 2), torch.as_tensor(parity).reshape(-1))
        clipped_step(model, opt, loss)
        return loss.item()

    losses, cpu, wall = run_steps(step, config["max_steps"], config["seconds"],
                                  f"parity {config['cell']}", stop_loss=0.001)
    accuracy = {}
    with torch.no_grad():
        for length in PARITY_TEST_LENGTHS:
            bits, parity = parity_data(500, length, config["seed"] + 1000 + length)
            pred = model(torch.as_tensor(bits), torch.full((500,), length)).argmax(dim=2)
            accuracy[str(length)] = float((pred[:, -1].numpy() == parity[:, -1]).mean())
    return {"accuracy_by_length": accuracy, "loss_curve": smooth(losses), "steps": len(losses),
            "cpu_seconds": cpu, "wall_seconds": wall}


def results(retrain=False, results_dir=None):
    """Everything the book shows: {"recall": {cell: [result per gap]}, "parity": {cell: result}}."""
    return {
        "recall": {cell: recall_sweep(cell, retrain, results_dir) for cell in CELLS},
        "parity": {cell: cached(parity_config(cell), train_parity, retrain, results_dir)
                   for cell in CELLS},
    }
