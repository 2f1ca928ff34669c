"""The targets of the applications, measured from the stored (or freshly trained) results."""

from . import charlm, memory, sentiment, seq2seq, tagging


def best_baseline(rows):
    """The n-gram baseline with the lowest held-out bits per character (a row dict)."""
    return min(rows, key=lambda r: r["bpc"])


def targets(retrain=False, results_dir=None):
    """Rows (target, measured, met) for the five tasks; trains whatever is not stored."""
    lm = charlm.results(retrain, results_dir)
    best_name, best = min(lm["models"].items(), key=lambda kv: kv[1]["heldout_bpc"])
    base = best_baseline(lm["baselines"])
    base_name = f"{base['smoothing']} n={base['n']}" + (f" k={base['k']}" if "k" in base else "")
    senti = sentiment.results(retrain, results_dir)
    lstm_acc = senti["lstm"]["test_accuracy"]["overall"]
    bow_acc = senti["bag of words"]["test_accuracy"]["overall"]
    tags = {corpus: {name: r["test_accuracy"]["token"] for name, r in runs.items()}
            for corpus, runs in tagging.results(retrain, results_dir).items()}
    strong_name, strong = min(lm["strong"].items(), key=lambda kv: kv[1]["heldout_bpc"])
    mkn = min((r for r in lm["classical"]["rows"] if r["smoothing"] == "modified kneser-ney"), key=lambda r: r["bpc"])
    s2s = seq2seq.results(retrain, results_dir)
    longest = {name: seq2seq.bucketed(r["exact_by_length"])[-1][1] for name, r in s2s.items()}  # 19+ words
    mem = memory.results(retrain, results_dir)
    gap = {cell: memory.longest_solved(rows) for cell, rows in mem["recall"].items()}
    ratio = gap["lstm"] / gap["elman"] if gap["elman"] else float("inf")
    return [
        ("char model <= 1.8 bits/char held out, 60 s CPU",
         f"{best_name}: {best['heldout_bpc']:.3f}", best["heldout_bpc"] <= 1.8),
        ("char model beats every smoothed n-gram (n <= 6)",
         f"best n-gram {base_name}: {base['bpc']:.3f}", best["heldout_bpc"] < base["bpc"]),
        ("char model beats every n-gram up to order 20 (modified Kneser-Ney), <= 10 min CPU",
         f"{strong_name}: {strong['heldout_bpc']:.3f} ({strong['cpu_seconds']:.0f} s); "
         f"modified Kneser-Ney n={mkn['n']}: {mkn['bpc']:.3f}",
         strong["heldout_bpc"] < mkn["bpc"] and strong["cpu_seconds"] <= 600),
        ("sentiment: LSTM >= 95 %, bag of words <= ~80 %",
         f"LSTM {lstm_acc:.1%}, bag of words {bow_acc:.1%}", lstm_acc >= 0.95 and bow_acc <= 0.8),
        ("tagging: bidirectional beats unidirectional",
         "token accuracy, bi / uni: " + ", ".join(
             f"{corpus} {acc['bidirectional']:.1%} / {acc['unidirectional']:.1%}" for corpus, acc in tags.items()),
         all(acc["bidirectional"] > acc["unidirectional"] for acc in tags.values())),
        ("recall: LSTM gap >= 5x Elman gap",
         f"longest gap solved: LSTM {gap['lstm']}, GRU {gap['gru']}, Elman {gap['elman']}", ratio >= 5),
        ("seq2seq: attention >= 95 % exact match, above the encoder-decoder on the longest inputs",
         f"exact match: attention {s2s['attention']['exact_match']:.1%}, encoder-decoder "
         f"{s2s['encoder-decoder']['exact_match']:.1%}; longest inputs {longest['attention']:.0%} / "
         f"{longest['encoder-decoder']:.0%}",
         s2s["attention"]["exact_match"] >= 0.95 and longest["attention"] > longest["encoder-decoder"]),
    ]


def format_targets(rows):
    """The target rows as a plain-text table."""
    width = max(len(t) for t, _, _ in rows)
    lines = [f"{'target':<{width}}  met  measured"]
    lines += [f"{t:<{width}}  {'yes' if met else 'NO ':<3}  {m}" for t, m, met in rows]
    return "\n".join(lines)
