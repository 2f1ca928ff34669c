"""The figures and tables of the sequence-to-sequence chapter, drawn from stored results.

Each function takes the dict returned by :func:`rnn_ref.apps.seq2seq.results` (name -> result)
and returns a matplotlib figure, or a Markdown string for tables.
"""

import matplotlib.pyplot as plt
import numpy as np

from .seq2seq import bucketed

COLORS = {"encoder-decoder": "tab:blue", "attention": "tab:red"}
def accuracy_by_length(s2s):
    """Exact match on the held-out pairs against input length in words, one line per model."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, r in s2s.items():
        rows = bucketed(r["exact_by_length"])
        ax.plot(range(len(rows)), [a for _, a, _ in rows], "o-", color=COLORS[name],
                label=f"{name} ({r['exact_match']:.1%} overall)")
    ax.set_xticks(range(len(rows)), [f"{label}\n({n})" for label, _, n in rows])
    ax.set(xlabel="input length in words (number of held-out pairs)", ylabel="exact match", ylim=(0, 1.03))
    ax.legend(fontsize=9, loc="lower left")
    fig.tight_layout()
    return fig


def beam_table(s2s):
    """Markdown table: exact match of greedy decoding (beam width 1) and wider beams."""
    widths = list(next(iter(s2s.values()))["beam"])
    n = sum(v[1] for k, v in next(iter(s2s.values()))["beam"][widths[0]].items() if k != "overall")
    rows = ["| model | " + " | ".join(f"beam {w}" + (" (greedy)" if w == "1" else "") for w in widths) + " |",
            "|---|" + "---|" * len(widths)]
    for name, r in s2s.items():
        rows.append(f"| {name} | " + " | ".join(f"{r['beam'][w]['overall']:.1%}" for w in widths) + " |")
    return "\n".join(rows) + f"\n\n(exact match on the first {n} held-out pairs)"


def beam_by_length(s2s):
    """Exact match against input length for each beam width, one panel per model."""
    fig, axes = plt.subplots(1, len(s2s), figsize=(9, 3.3), sharey=True)
    for ax, (name, r) in zip(np.atleast_1d(axes), s2s.items()):
        for w, style in zip(r["beam"], ["o-", "s--", "^:"]):
            rows = bucketed({k: v for k, v in r["beam"][w].items() if k != "overall"})
            ax.plot(range(len(rows)), [a for _, a, _ in rows], style, label=f"beam {w}" + (" (greedy)" if w == "1" else ""))
        ax.set_xticks(range(len(rows)), [label for label, _, _ in rows])
        ax.set(title=name, xlabel="input length in words", ylim=(0, 1.03))
        ax.legend(fontsize=9, loc="lower left")
    np.atleast_1d(axes)[0].set_ylabel("exact match")
    fig.tight_layout()
    return fig


def exposure_bias(s2s, name="encoder-decoder"):
    """Left: teacher-forced loss and free-running exact match during training. Right: token
    accuracy at each output position, fed the true previous digits or its own."""
    r = s2s[name]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.4))
    steps = [c["steps"] for c in r["curve"]]
    left.plot(steps, [c["teacher_forced_bits"] for c in r["curve"]], "o-", color="tab:purple",
              label="teacher-forced loss (bits/token)")
    left.set(xlabel="updates", ylabel="bits per output token")
    twin = left.twinx()
    twin.plot(steps, [c["teacher_forced_token_accuracy"] for c in r["curve"]], "s--", color="tab:green",
              label="teacher-forced token accuracy")
    twin.plot(steps, [c["exact_match"] for c in r["curve"]], "^-", color="tab:red", label="free-running exact match")
    twin.set(ylabel="accuracy", ylim=(0, 1.02))
    handles = left.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    left.legend(handles, [h.get_label() for h in handles], fontsize=9, loc="upper center",
                bbox_to_anchor=(0.5, -0.2))
    left.set_title(f"{name}, validation pairs\nduring training")
    lowest = min(min(v) for v in r["position_accuracy"].values())
    for mode, style in [("teacher forced", "s--"), ("free running", "o-")]:
        acc = r["position_accuracy"][mode]
        right.plot(range(1, len(acc) + 1), acc, style, label=f"fed {'the true' if mode == 'teacher forced' else 'its own'} previous digits")
    right.set(xlabel="output position (the last is the end)", ylabel="token accuracy",
              ylim=(np.floor(lowest * 20 - 1) / 20, 1.005), title=f"{name}, held-out pairs\nafter training")
    right.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    return fig


def attention_weights(s2s, name="attention"):
    """Heat maps of the attention weights: output digits (rows) against input words (columns)."""
    examples = s2s[name]["examples"]
    fig, axes = plt.subplots(len(examples), 1, figsize=(7, 2.2 * len(examples)))
    for ax, (text, ex) in zip(np.atleast_1d(axes), examples.items()):
        words = text.split()
        w = np.asarray(ex["weights"])[:, :len(words)]
        ax.imshow(w, cmap="Greys", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(words)), words, rotation=30, ha="right", fontsize=9)
        ax.set_yticks(range(len(w)), list(ex["output"]) + ["end"], fontsize=9)
        ax.grid(False)
        ax.set_ylabel("output")
    fig.tight_layout()
    return fig


def error_table(s2s, name="encoder-decoder", limit=6):
    """Markdown table of held-out pairs a model gets wrong: input, truth, output."""
    rows = ["| input | digits | output |", "|---|---|---|"]
    rows += [f"| {words} | {truth} | {out} |" for words, truth, out in s2s[name]["errors"][:limit]]
    return "\n".join(rows)
