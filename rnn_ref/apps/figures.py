"""The figures and tables of the applications chapter, drawn from stored results (no training).

Each function takes the dict returned by a task's ``results()`` and returns a matplotlib
figure, or a Markdown string for tables.
"""

import matplotlib.pyplot as plt
import numpy as np

from .memory import SOLVED, SYMBOLS
from .report import best_baseline
from .tagging import FOCUS

COLORS = {"elman": "tab:blue", "lstm": "tab:orange", "gru": "tab:green", "bag of words": "tab:gray",
          "unidirectional": "tab:blue", "bidirectional": "tab:red", "numpy elman": "tab:purple"}
MARKERS = {"elman": "o-", "lstm": "s--", "gru": "^:"}  # distinct, so that overlapping lines show


def _curve_x(result, curve):
    """Characters seen at each point of a smoothed training curve."""
    seen = result["steps"] * result["config"]["seq_len"] * result["config"]["batch"]
    return np.linspace(0, seen, len(result[curve]) + 1)[1:]


def charlm_curves(lm, numpy_model=None):
    """Training bits per character against characters read, held-out results as markers."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, r in lm["models"].items():
        x = _curve_x(r, "train_bpc_curve")
        ax.plot(x, r["train_bpc_curve"], color=COLORS[name], label=f"{name} (train)")
        ax.plot(x[-1], r["heldout_bpc"], "o", color=COLORS[name], label=f"{name} held out: {r['heldout_bpc']:.2f}")
    if numpy_model is not None:
        x = _curve_x(numpy_model, "train_bpc_curve")
        ax.plot(x, numpy_model["train_bpc_curve"], color=COLORS["numpy elman"], label="numpy Elman (train)")
    base = best_baseline(lm["baselines"])
    ax.axhline(base["bpc"], color="k", ls="--", lw=1,
               label=f"best n-gram ({base['smoothing']}, n={base['n']}): {base['bpc']:.2f}")
    ax.set(xlabel="characters read", ylabel="bits per character", ylim=(1.0, 5.0), xscale="log")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def baseline_table(lm):
    """Markdown table: held-out bits per character of every n-gram baseline and every RNN."""
    rows = ["| model | held-out bits/char |", "|---|---|"]
    for n in sorted({r["n"] for r in lm["baselines"]}):
        add = min((r for r in lm["baselines"] if r["n"] == n and r["smoothing"] == "additive"), key=lambda r: r["bpc"])
        kn = next(r for r in lm["baselines"] if r["n"] == n and r["smoothing"] == "kneser-ney")
        rows.append(f"| {n}-gram, additive (best k = {add['k']}) | {add['bpc']:.3f} |")
        rows.append(f"| {n}-gram, Kneser-Ney | {kn['bpc']:.3f} |")
    for name, r in lm["models"].items():
        rows.append(f"| **{name}**, {r['parameters']:,} parameters, {r['steps']} updates | **{r['heldout_bpc']:.3f}** |")
    return "\n".join(rows)


def order_table(lm):
    """Markdown table: held-out bits per character of the n-gram baselines, one row per order.

    Columns: additive (best k, orders <= 6), Kneser-Ney with one discount, modified Kneser-Ney
    (three discounts); the orders shown are 1 .. 6, then 8, 10, 12, 16, 20.
    """
    classical = lm["classical"]["rows"]
    top = max(r["n"] for r in classical)
    rows = ["| n | additive (best k) | Kneser-Ney, one discount | modified Kneser-Ney |", "|---|---|---|---|"]
    for n in [n for n in range(1, top + 1) if n <= 6 or n in (8, 10, 12, 16, 20)]:
        add = [r for r in lm["baselines"] if r["n"] == n and r["smoothing"] == "additive"]
        add = min(add, key=lambda r: r["bpc"]) if add else None
        kn = next(r["bpc"] for r in classical if r["n"] == n and r["smoothing"] == "kneser-ney")
        mkn = next(r["bpc"] for r in classical if r["n"] == n and r["smoothing"] == "modified kneser-ney")
        additive = f"{add['bpc']:.3f} (k = {add['k']})" if add else ""
        rows.append(f"| {n} | {additive} | {kn:.3f} | {mkn:.3f} |")
    return "\n".join(rows)


def best_classical(lm, smoothing="modified kneser-ney"):
    """The row of the lowest held-out bits per character among the classical rows of one smoothing."""
    return min((r for r in lm["classical"]["rows"] if r["smoothing"] == smoothing), key=lambda r: r["bpc"])


def model_table(lm):
    """Markdown table: every recurrent model against the best n-gram and the compressors."""
    rows = ["| model | held-out bits/char | training |", "|---|---|---|"]
    mkn = best_classical(lm)
    rows.append(f"| best n-gram: modified Kneser-Ney, n = {mkn['n']} | {mkn['bpc']:.3f} | counts, seconds |")
    for name, r in {**lm["models"], **lm["strong"]}.items():
        c = r["config"]
        shape = f"{c.get('layers', 1)} x {c['hidden_size']} {c['cell']}" + (
            f", dropout {c['dropout']}" if c.get("dropout") else "")
        rows.append(f"| {name} ({shape}, {r['parameters']:,} parameters) | {r['heldout_bpc']:.3f} "
                    f"| {r['steps']:,} updates, {r['cpu_seconds']:.0f} s |")
    for name, r in lm["strong"].items():
        lr, bpc = min(r.get("dynamic_heldout_bpc", {}).items(), key=lambda kv: kv[1], default=(None, None))
        if lr is not None:
            rows.append(f"| {name}, *dynamic evaluation* (SGD, learning rate {lr}) | {bpc:.3f} | the same |")
    for c in lm["classical"]["compressors"]:
        rows.append(f"| {c['compressor']}, given the training text | {c['bpc']:.3f} | none |")
    return "\n".join(rows)


def order_curve(lm):
    """Held-out bits per character against the order n of the n-gram, with the other models as lines."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for smoothing, style, color in [("kneser-ney", "o-", "tab:blue"), ("modified kneser-ney", "s-", "tab:green")]:
        rows = [r for r in lm["classical"]["rows"] if r["smoothing"] == smoothing]
        ax.plot([r["n"] for r in rows], [r["bpc"] for r in rows], style, ms=3, color=color,
                label=smoothing.replace("kneser-ney", "Kneser-Ney") + (" (one discount)" if smoothing == "kneser-ney" else ""))
    lines = [("lstm, 60 s", lm["models"]["lstm"]["heldout_bpc"], "tab:orange", (0, (1, 3)))]
    lines += [(name, r["heldout_bpc"], "tab:orange", "-") for name, r in lm["strong"].items()]
    for name, r in lm["strong"].items():
        if r.get("dynamic_heldout_bpc"):
            lines.append((f"{name}, dynamic evaluation", min(r["dynamic_heldout_bpc"].values()), "tab:red", "-"))
    lines += [(f"{c['compressor']} given the training text", c["bpc"], "k", "--" if c["compressor"] == "xz" else "-.")
              for c in lm["classical"]["compressors"]]
    for label, value, color, ls in lines:
        ax.axhline(value, color=color, ls=ls, lw=1.2, label=f"{label}: {value:.3f}")
    ax.set(xlabel="order n (the model sees n - 1 characters)", ylabel="held-out bits per character",
           ylim=(1.3, 2.1), xticks=[1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def construction_accuracy(senti):
    """Grouped bars: held-out accuracy per construction, one bar per model."""
    names = list(senti)
    constructions = [c for c in senti[names[0]]["test_accuracy"] if c != "overall"]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        acc = [senti[name]["test_accuracy"][c] for c in constructions]
        ax.bar(np.arange(len(constructions)) + k * width, acc, width, color=COLORS[name],
               label=f"{name} ({senti[name]['test_accuracy']['overall']:.0%} overall)")
    ax.axhline(0.5, color="k", ls=":", lw=1)
    ax.set_xticks(np.arange(len(constructions)) + 0.4 - width / 2, constructions)
    ax.set(ylabel="held-out accuracy", ylim=(0, 1.25), yticks=np.linspace(0, 1, 6))
    ax.legend(fontsize=7, loc="upper center", ncol=len(names))
    fig.tight_layout()
    return fig


def prefix_probabilities(senti, sentence):
    """P(positive) after each word of a sentence, one line per model."""
    words = sentence.split()
    fig, ax = plt.subplots(figsize=(8, 3))
    for name, r in senti.items():
        ax.plot(r["examples"][sentence], "o-", color=COLORS[name], label=name, ms=3)
    ax.axhline(0.5, color="k", ls=":", lw=1)
    ax.set_xticks(range(len(words)), words, rotation=40, ha="right")
    ax.set(ylabel="P(positive)", ylim=(-0.02, 1.02))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def gate_activations(senti, sentence, units=16):
    """Heat maps of the LSTM's input, forget and output gates and its cell state over a sentence.

    Shows the ``units`` hidden units whose cell state changes most over the sentence.
    """
    gates = {k: np.asarray(v) for k, v in senti["lstm"]["gates"][sentence].items()}  # (T, H) each
    shown = np.argsort(-np.ptp(gates["c"], axis=0))[:units]
    words = sentence.split()
    fig, axes = plt.subplots(2, 2, figsize=(8.5, 6.4), sharey=True)
    panels = [("i", "input gate i", "viridis", (0, 1)), ("f", "forget gate f", "viridis", (0, 1)),
              ("o", "output gate o", "viridis", (0, 1)), ("c", "cell state c", "RdBu_r", None)]
    for ax, (key, title, cmap, limits) in zip(axes.flat, panels):
        values = gates[key][:, shown].T
        if limits is None:
            m = np.abs(values).max()
            limits = (-m, m)
        im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=limits[0], vmax=limits[1])
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(words)), words, rotation=60, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.05)
    axes[0, 0].set_ylabel("hidden unit")
    axes[1, 0].set_ylabel("hidden unit")
    fig.tight_layout()
    return fig


def tagging_table(tags):
    """Markdown table: held-out accuracy of both taggers on both corpora."""
    rows = ["| corpus | model | per token | at the focus | whole sequence |", "|---|---|---|---|---|"]
    for corpus, runs in tags.items():
        for name, r in runs.items():
            acc = r["test_accuracy"]
            rows.append(f"| {corpus} | {name} | {acc['token']:.1%} | {acc['focus']:.1%} ({FOCUS[corpus]}) "
                        f"| {acc['sequence']:.1%} |")
    return "\n".join(rows)


def _only_bidirectional_right(runs):
    """Pairs (uni, bi) of stored examples that the bidirectional tagger alone gets right."""
    return [(u, b) for u, b in zip(runs["unidirectional"]["examples"], runs["bidirectional"]["examples"])
            if b["predicted"] == b["tags"] and u["predicted"] != u["tags"]]


def entity_examples(runs, limit=6):
    """Markdown table of held-out sentences the bidirectional tagger alone gets right."""
    rows = ["| sentence | true tags | unidirectional | bidirectional |", "|---|---|---|---|"]
    for u, b in _only_bidirectional_right(runs)[:limit]:
        wrong = {k for k, (p, t) in enumerate(zip(u["predicted"], u["tags"])) if p != t}
        mark = lambda tags: " ".join(f"**{t}**" if k in wrong else t for k, t in enumerate(tags))
        rows.append(f"| {' '.join(u['tokens'])} | {mark(u['tags'])} | {mark(u['predicted'])} | {mark(b['predicted'])} |")
    return "\n".join(rows)


def python_examples(runs, limit=4):
    """Plain text: short lines of held-out source where the unidirectional tagger mistags a name
    and the bidirectional one gets every character right, with their true and predicted tags and
    a caret under every character the unidirectional tagger gets wrong."""
    blocks = []
    pairs = [(u, b) for u, b in _only_bidirectional_right(runs)  # lines where a name is mistagged
             if any(p != t and t in "kcn" for p, t in zip(u["predicted"], u["tags"])) and len(u["tokens"]) <= 64]
    for u, b in pairs[:limit]:
        carets = "".join("^" if p != t else " " for p, t in zip(u["predicted"], u["tags"])).rstrip()
        blocks.append("\n".join([f"source  {''.join(u['tokens'])}", f"true    {''.join(u['tags'])}",
                                  f"uni     {''.join(u['predicted'])}", f"        {carets}",
                                  f"bi      {''.join(b['predicted'])}"]))
    return "\n\n".join(blocks)


def recall_accuracy(mem):
    """Held-out accuracy against gap length, one line per cell."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for cell, rows in mem["recall"].items():
        gaps = [r["config"]["gap"] for r in rows]
        ax.plot(gaps, [r["test_accuracy"] for r in rows], MARKERS[cell], color=COLORS[cell], label=cell)
    ax.axhline(SOLVED, color="k", ls="--", lw=1, label=f"solved ({SOLVED:.0%})")
    ax.axhline(1 / SYMBOLS, color="k", ls=":", lw=1, label="chance")
    ax.set(xscale="log", xlabel="gap L (distractors between the symbol and the question)",
           ylabel="held-out accuracy", ylim=(0, 1.05))
    ax.set_xticks(gaps, [str(g) for g in gaps])
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def gradient_norms(mem, gap):
    """||dL/dh_t|| against the distance from the loss, before and after training, for one gap."""
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.4), sharey=True)
    for ax, key, title in zip(axes, ["initial_gradient_norms", "trained_gradient_norms"],
                              ["at initialisation", "after training"]):
        for cell, rows in mem["recall"].items():
            r = next(r for r in rows if r["config"]["gap"] == gap)
            norms = np.asarray(r[key])
            norms = np.where(norms > 0, norms, np.nan)  # an underflow to 0 is left out of the log plot
            ax.plot(np.arange(len(norms))[::-1], norms, color=COLORS[cell], label=cell)
        ax.set(yscale="log", title=f"gap {gap}, {title}", xlabel="steps between $h_t$ and the loss")
    axes[0].set_ylabel(r"$\|\partial L / \partial h_t\|$")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def parity_accuracy(mem):
    """Accuracy of the final parity against string length (trained on 20 bits)."""
    fig, ax = plt.subplots(figsize=(6, 3.3))
    for cell, r in mem["parity"].items():
        lengths = [int(n) for n in r["accuracy_by_length"]]
        ax.plot(lengths, list(r["accuracy_by_length"].values()), MARKERS[cell], color=COLORS[cell], label=cell)
    ax.axvline(next(iter(mem["parity"].values()))["config"]["train_length"], color="k", ls=":", lw=1,
               label="training length")
    ax.axhline(0.5, color="k", ls="--", lw=1, label="chance")
    ax.set(xscale="log", xlabel="bits in the string", ylabel="accuracy of the final parity", ylim=(0.4, 1.02))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
