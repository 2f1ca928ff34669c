"""Task 5: sequence to sequence, English number words -> digits, with an encoder-decoder.

"four and twenty thousand one hundred and five" -> "24105": the input is words, the output
digits, and their lengths and order differ (:func:`rnn_ref.apps.corpora.number_corpus`). A GRU
encoder-decoder (:class:`rnn_ref.apps.models.Seq2Seq`) is trained with teacher forcing on fresh
generated pairs at every update and decoded greedily and with a beam search
(:func:`beam_search`). Without attention the decoder sees the source only through the encoder's
final state; the attention variant may look at every encoder state. Measured on a held-out set:
exact match against input length, greedy against beam, teacher-forced against free-running
accuracy, and the attention weights of a few examples.
"""

import math

import numpy as np
import torch
from torch.nn import functional as F

from .corpora import MAX_DIGITS, NUMBER_WORDS, number_corpus
from .models import Seq2Seq
from .store import cached
from .training import clipped_step, decayed_lr, run_steps, seed_everything, smooth

SRC = ["<pad>"] + NUMBER_WORDS
TGT = ["<pad>", "<bos>", "<eos>"] + list("0123456789")
PAD, BOS, EOS = 0, 1, 2
SRC_ID = {w: i for i, w in enumerate(SRC)}
TGT_ID = {c: i for i, c in enumerate(TGT)}
MAX_OUT = MAX_DIGITS + 1  # digits and <eos>

MODELS = {
    "encoder-decoder": dict(attention=False),
    "attention": dict(attention=True),
}
BEAM_WIDTHS = (1, 3, 10)
ATTENTION_EXAMPLES = [
    "four and twenty thousand one hundred and five",
    "nineteen hundred and eighty four",
    "seven billion three million twelve",
]


def make_config(attention=False, hidden_size=128, embed_size=32, lr=0.003, batch=64, seconds=600,
                max_steps=2000, n_valid=500, n_test=2400, n_beam=600, seed=0):
    """A sequence-to-sequence configuration (a dict).

    Training pairs are drawn afresh for every update (from seed * 1000003 + update), the
    validation pairs of the training curve from seed + 2000, the test pairs from seed + 1000;
    beam search runs on the first n_beam test pairs.
    """
    return {"task": "seq2seq", "attention": attention, "hidden_size": hidden_size,
            "embed_size": embed_size, "lr": lr, "batch": batch, "seconds": seconds,
            "max_steps": max_steps, "n_valid": n_valid, "n_test": n_test, "n_beam": n_beam, "seed": seed}


def encode_pairs(pairs):
    """List of (words, digits) -> src (N, S), lengths (N,), tgt_in (N, T), tgt_out (N, T).

    tgt_in is <bos> then the digits, tgt_out the digits then <eos>; both padded with 0.
    """
    lengths = torch.tensor([len(w) for w, _ in pairs])
    src = torch.zeros(len(pairs), int(lengths.max()), dtype=torch.long)
    T = max(len(d) for _, d in pairs) + 1
    tgt_in = torch.zeros(len(pairs), T, dtype=torch.long)
    tgt_out = torch.zeros(len(pairs), T, dtype=torch.long)
    for n, (words, digits) in enumerate(pairs):
        src[n, :len(words)] = torch.tensor([SRC_ID[w] for w in words])
        ids = [TGT_ID[c] for c in digits]
        tgt_in[n, :len(ids) + 1] = torch.tensor([BOS] + ids)
        tgt_out[n, :len(ids) + 1] = torch.tensor(ids + [EOS])
    return src, lengths, tgt_in, tgt_out


def to_digits(ids):
    """Target ids up to the first <eos> -> str of digits."""
    out = []
    for i in ids:
        if i == EOS:
            break
        out.append(TGT[i] if i > EOS else "?")
    return "".join(out)


@torch.no_grad()
def greedy_decode(model, src, lengths, max_len=MAX_OUT):
    """Free-running decoding, the most probable token at every step: (list of str, weights).

    weights: (N, steps, S) attention weights, or None without attention.
    """
    model.eval()
    memory = model.encode(src, lengths)
    state, token = memory[1], torch.full((src.shape[0],), BOS)
    tokens, weights = [], []
    for _ in range(max_len):
        scores, state, w = model.step(token, state, memory)
        token = scores.argmax(1)
        tokens.append(token)
        weights.append(w)
    model.train()
    ids = torch.stack(tokens, 1).tolist()
    return [to_digits(row) for row in ids], (torch.stack(weights, 1) if model.attention else None)


@torch.no_grad()
def beam_search(model, words, width, max_len=MAX_OUT):
    """The most probable output found by a beam of ``width`` hypotheses: (digits, log prob).

    Every step extends each live hypothesis by every token, keeps the ``width`` best by total
    log probability, and sets aside those that end in <eos>. The search stops when no live
    hypothesis can beat the best finished one (log probabilities only fall) or after
    ``max_len`` tokens. Width 1 is greedy decoding.
    """
    model.eval()
    src = torch.tensor([[SRC_ID[w] for w in words]])
    memory = model.encode(src, torch.tensor([len(words)]))
    beams = [([], 0.0, memory[1])]  # (tokens, log prob, decoder state (1, H))
    finished = []
    for _ in range(max_len):
        tokens = torch.tensor([b[0][-1] if b[0] else BOS for b in beams])
        states = torch.cat([b[2] for b in beams])
        many = tuple(m.expand(len(beams), *m.shape[1:]) for m in memory)
        scores, states, _ = model.step(tokens, states, many)
        logp = F.log_softmax(scores, dim=1) + torch.tensor([b[1] for b in beams])[:, None]
        top = torch.topk(logp.flatten(), min(width, logp.numel()))
        beams_next = []
        for value, index in zip(top.values.tolist(), top.indices.tolist()):
            b, token = divmod(index, logp.shape[1])
            if token == EOS:
                finished.append((beams[b][0], value))
            else:
                beams_next.append((beams[b][0] + [token], value, states[b:b + 1]))
        beams = beams_next
        best = max((f[1] for f in finished), default=-math.inf)
        if not beams or best >= max(b[1] for b in beams):
            break
    model.train()
    tokens, logp = max(finished or [(b[0], b[1]) for b in beams], key=lambda f: f[1])
    return to_digits(tokens), logp


@torch.no_grad()
def teacher_forced(model, pairs):
    """Loss (bits per output token) and next-token predictions when fed the true previous tokens.

    Returns (bits per token, predictions (N, T) ids, targets (N, T) ids, mask (N, T)).
    """
    model.eval()
    src, lengths, tgt_in, tgt_out = encode_pairs(pairs)
    scores = model(src, lengths, tgt_in)
    model.train()
    mask = tgt_out != PAD
    loss = F.cross_entropy(scores[mask], tgt_out[mask]).item() / math.log(2)
    return loss, scores.argmax(-1), tgt_out, mask


def position_accuracy(pred, target):
    """Per output position t: the fraction of (pred, target) str pairs with the same symbol at
    t, over the targets that have a position t (position len(target) is the end, <eos>). A
    missing or extra digit shifts every later one, which then counts as wrong."""
    acc = []
    for t in range(max(len(y) for y in target) + 1):
        rows = [(p, y) for p, y in zip(pred, target) if len(y) >= t]
        acc.append(float(np.mean([(p + "$")[t:t + 1] == (y + "$")[t] for p, y in rows])))
    return acc


def by_length(pairs, correct):
    """Exact-match accuracy per input length in words: {length: (accuracy, count)}."""
    out = {}
    for (words, _), ok in zip(pairs, correct):
        out.setdefault(len(words), []).append(ok)
    return {str(k): [float(np.mean(v)), len(v)] for k, v in sorted(out.items())}


LENGTH_RANGES = [(1, 3), (4, 6), (7, 9), (10, 12), (13, 15), (16, 18), (19, 30)]


def bucketed(by_length, buckets=LENGTH_RANGES):
    """{length: [accuracy, count]} -> list of (label, accuracy, count) over ranges of lengths."""
    out = []
    for lo, hi in buckets:
        rows = [(a, n) for k, (a, n) in by_length.items() if k.isdigit() and lo <= int(k) <= hi]
        count = sum(n for _, n in rows)
        if count:
            out.append((f"{lo}-{hi}" if hi < 30 else f"{lo}+", sum(a * n for a, n in rows) / count, count))
    return out


def train_seq2seq(config):
    """Train one encoder-decoder on fresh pairs at every update; returns its measurements."""
    seed_everything(config["seed"])
    model = Seq2Seq(len(SRC), len(TGT), config["hidden_size"], config["embed_size"], config["attention"])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    valid = number_corpus(config["n_valid"], config["seed"] + 2000)
    checkpoints = max(1, config["max_steps"] // 10)
    curve = []

    def step(i, progress):
        batch = number_corpus(config["batch"], config["seed"] * 1_000_003 + i)
        src, lengths, tgt_in, tgt_out = encode_pairs(batch)
        scores = model(src, lengths, tgt_in)
        loss = F.cross_entropy(scores.reshape(-1, len(TGT)), tgt_out.reshape(-1), ignore_index=PAD)
        for group in opt.param_groups:
            group["lr"] = decayed_lr(config["lr"], progress)
        clipped_step(model, opt, loss)
        if (i + 1) % checkpoints == 0:
            curve.append(_checkpoint(model, valid, i + 1))
        return loss.item() / math.log(2)

    losses, cpu, wall = run_steps(step, config["max_steps"], config["seconds"],
                                  "seq2seq" + (" attention" if config["attention"] else ""))
    test = number_corpus(config["n_test"], config["seed"] + 1000)
    src, lengths, _, _ = encode_pairs(test)
    greedy, _ = greedy_decode(model, src, lengths)
    correct = [p == y for p, (_, y) in zip(greedy, test)]
    tf_loss, tf_pred, tf_target, mask = teacher_forced(model, test)
    hit = (tf_pred == tf_target) & mask
    tf_position = (hit.sum(0) / mask.sum(0)).tolist()  # per position, given the true prefix
    beam_pairs = test[:config["n_beam"]]
    beam = {}
    for width in BEAM_WIDTHS:
        decoded = [beam_search(model, words, width)[0] for words, _ in beam_pairs]
        beam[str(width)] = by_length(beam_pairs, [p == y for p, (_, y) in zip(decoded, beam_pairs)])
        beam[str(width)]["overall"] = float(np.mean([p == y for p, (_, y) in zip(decoded, beam_pairs)]))
    examples = {}
    for text in ATTENTION_EXAMPLES:
        words = text.split()
        src1, len1, _, _ = encode_pairs([(words, "0")])
        out, weights = greedy_decode(model, src1, len1)
        examples[text] = {"output": out[0],
                          "weights": None if weights is None else weights[0, :len(out[0]) + 1].tolist()}
    wrong = [(" ".join(w), y, p) for (w, y), p, ok in zip(test, greedy, correct) if not ok]
    return {
        "exact_match": float(np.mean(correct)),
        "exact_by_length": by_length(test, correct),
        "teacher_forced_bits": tf_loss,
        "teacher_forced_token_accuracy": float((tf_pred == tf_target)[mask].float().mean()),
        "position_accuracy": {"teacher forced": tf_position,
                              "free running": position_accuracy(greedy, [y for _, y in test])},
        "beam": beam,
        "curve": curve,
        "loss_curve": smooth(losses),
        "examples": examples,
        "errors": wrong[:12],
        "steps": len(losses), "cpu_seconds": cpu, "wall_seconds": wall,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


@torch.no_grad()
def _checkpoint(model, valid, steps):
    """Teacher-forced bits per token and token accuracy, and free-running exact match, on ``valid``."""
    loss, pred, target, mask = teacher_forced(model, valid)
    src, lengths, _, _ = encode_pairs(valid)
    greedy, _ = greedy_decode(model, src, lengths)
    return {"steps": steps, "teacher_forced_bits": loss,
            "teacher_forced_token_accuracy": float((pred == target)[mask].float().mean()),
            "exact_match": float(np.mean([p == y for p, (_, y) in zip(greedy, valid)]))}


def results(retrain=False, results_dir=None):
    """{name: result} for the encoder-decoder without and with attention."""
    return {name: cached(make_config(**kw), train_seq2seq, retrain, results_dir) for name, kw in MODELS.items()}
