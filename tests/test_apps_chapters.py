"""The chapters' numbers come from the stored results: no measured number is typed into the prose,
and every claim the prose makes in words holds for the stored results.

The measured numbers of chapter 10 and of chapter 9's comparison with the classical baselines are
inserted by ``glue`` from code cells that read the stored results, so they cannot go stale. A
number with a decimal point or a percent sign typed into that prose is a number that can; the
first test finds them. The other tests check the sentences that state a comparison in words.
"""

import re
from pathlib import Path

import pytest

from rnn_ref.apps import charlm, seq2seq
from rnn_ref.apps.seq2seq import bucketed

BOOK = Path(__file__).resolve().parents[1] / "book"


def prose(text):
    """Markdown without code blocks, directives' bodies, math, roles and the practice section."""
    text = text.split("\n## Practice")[0]
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", "", text)
    return re.sub(r"\{[\w:-]+\}`[^`]*`", "", text)


def measured_looking_numbers(text):
    return re.findall(r"\d+\.\d+|\d+(?:\.\d+)?\s?%", prose(text))


SECTIONS = {
    "10_seq2seq": lambda text: text,
    "09_applications": lambda text: text.split("(sec-charlm-strong)=")[1].split("(sec-sentiment)=")[0],
}


@pytest.mark.parametrize("chapter", list(SECTIONS))
def test_no_measured_number_is_typed_into_the_prose(chapter):
    text = SECTIONS[chapter]((BOOK / f"{chapter}.md").read_text())
    assert "{glue:text}" in text
    assert measured_looking_numbers(text) == []


def test_the_prose_check_finds_typed_numbers():
    assert measured_looking_numbers("It reaches 1.56 bits, {glue:text}`x:.2f` and $2^{1.7}$.") == ["1.56"]
    assert measured_looking_numbers("accuracy of 97 %\n```\nprint(0.5)\n```\n") == ["97 %"]


@pytest.fixture(scope="module")
def lm():
    return charlm.results()


@pytest.fixture(scope="module")
def s2s():
    return seq2seq.results()


def test_language_model_claims(lm):
    classical = lm["classical"]
    mkn = {r["n"]: r["bpc"] for r in classical["rows"] if r["smoothing"] == "modified kneser-ney"}
    kn = {r["n"]: r["bpc"] for r in classical["rows"] if r["smoothing"] == "kneser-ney"}
    # modified Kneser-Ney beats one discount at every order above 2, and keeps improving to n = 20
    assert all(mkn[n] < kn[n] for n in range(3, 21))
    assert min(mkn, key=mkn.get) >= 16
    # xz copies long stretches: it beats every n-gram and bz2; alone, it is worse than every RNN
    xz, bz2 = classical["compressors"]
    assert xz["bpc"] < bz2["bpc"] < min(mkn.values())
    assert all(xz["alone_bpc"] > r["heldout_bpc"] for r in {**lm["models"], **lm["strong"]}.values())
    assert classical["copied_fraction"]["50"] > 0.1


def test_strong_model_claims(lm):
    """Section "Against the strongest classical baselines" of chapter 9, in words."""
    mkn = {r["n"]: r["bpc"] for r in lm["classical"]["rows"] if r["smoothing"] == "modified kneser-ney"}
    xz, bz2 = lm["classical"]["compressors"]
    strong = next(iter(lm["strong"].values()))
    # "no recurrent model of the course beats every n-gram order" (ordinary evaluation)
    assert all(r["heldout_bpc"] > min(mkn.values()) for r in {**lm["models"], **lm["strong"]}.values())
    # "about half of the ten minutes": at the 60-second LSTM's speed, and it stopped on its steps
    speed = lm["models"]["lstm"]["chars_seen"] / lm["models"]["lstm"]["cpu_seconds"]
    assert 4 * 60 < strong["chars_seen"] / speed < 6 * 60
    assert strong["steps"] == strong["config"]["max_steps"] and strong["cpu_seconds"] <= 600
    # "its training loss ... far below its held-out score"
    assert sum(strong["train_bpc_curve"][-10:]) / 10 < strong["heldout_bpc"] - 0.2
    # dynamic evaluation: below every n-gram and both compressors; the largest rate was the best
    dynamic = strong["dynamic_heldout_bpc"]
    assert min(dynamic.values()) < min(xz["bpc"], bz2["bpc"], min(mkn.values()))
    assert min(dynamic, key=dynamic.get) == max(dynamic, key=float)
    assert dynamic[min(dynamic, key=float)] < min(mkn.values())  # even the smallest rate
    # "the 60-second LSTM ... beaten from order ... on": by every order from there to 20
    first = min(n for n in mkn if mkn[n] < lm["models"]["lstm"]["heldout_bpc"])
    assert all(mkn[n] < lm["models"]["lstm"]["heldout_bpc"] for n in range(first, 21))


def argmax_words(example):
    """For each output symbol of a stored attention example, the input word it attends to most."""
    return [max(range(len(row)), key=row.__getitem__) for row in example["weights"]]


def test_seq2seq_claims(s2s):
    """Chapter 10, in words."""
    plain, att = s2s["encoder-decoder"], s2s["attention"]
    # training: an attention update costs more; both far inside ten minutes
    assert att["cpu_seconds"] / att["steps"] > plain["cpu_seconds"] / plain["steps"]
    assert max(plain["cpu_seconds"], att["cpu_seconds"]) < 300
    # beam: changes only inputs of seven words or more, repairs more than it breaks; attention already perfect
    greedy, beam = plain["beam"]["1"], plain["beam"]["10"]
    assert all(greedy[k] == beam[k] for k in greedy if k != "overall" and int(k) < 7)
    assert beam["overall"] > greedy["overall"]
    assert att["beam"]["1"]["overall"] == att["beam"]["10"]["overall"] == 1.0
    # bottleneck: falls steadily with length, to about half on the longest; attention right on all of those
    rows_plain, rows_att = bucketed(plain["exact_by_length"]), bucketed(att["exact_by_length"])
    accuracy = [a for _, a, _ in rows_plain]
    assert accuracy == sorted(accuracy, reverse=True) and accuracy[0] == 1.0
    assert 0.35 < accuracy[-1] < 0.65 and rows_att[-1][1] == 1.0
    assert att["exact_match"] > plain["exact_match"]
    seven = "seven billion three million twelve"
    assert plain["examples"][seven]["output"] != "7003000012" == att["examples"][seven]["output"]
    # exposure bias: free running below teacher forced at every position, drifting down along the output
    tf, free = plain["position_accuracy"]["teacher forced"], plain["position_accuracy"]["free running"]
    assert all(f <= t for f, t in zip(free, tf)) and sum(free) < sum(tf)
    assert sum(free[6:12]) / 6 < sum(free[:6]) / 6
    assert plain["teacher_forced_token_accuracy"] > plain["exact_match"]
    assert all(c["exact_match"] < c["teacher_forced_token_accuracy"] for c in plain["curve"])
    # attention weights: the reordering of "four and twenty", zeros from "hundred" and "million"
    ex = att["examples"]
    four = "four and twenty thousand one hundred and five".split()
    assert [four[j] for j in argmax_words(ex[" ".join(four)])[:5]] == ["twenty", "four", "one", "hundred", "five"]
    nineteen = "nineteen hundred and eighty four".split()
    assert [nineteen[j] for j in argmax_words(ex[" ".join(nineteen)])[:2]] == ["nineteen", "nineteen"]
    zeros = [seven.split()[j] for j, d in zip(argmax_words(ex[seven]), ex[seven]["output"]) if d == "0"]
    assert set(zeros) <= {"million", "three", "billion"} and max(set(zeros), key=zeros.count) == "million"
