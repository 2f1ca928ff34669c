"""A malformed notebook is one student's problem (issue 15, part 4): a property test.

Random mutations of a valid submission's JSON (types swapped, fields removed, lone surrogates,
huge values, deep nesting) go through every step the grader takes before a kernel starts:
opening the file, parsing, the tamper scan, the CSV row and the feedback page. None may raise;
each submission is either gradable or gets a one-line reason. A few of the mutants are then
graded for real, in one run beside a correct control, which must keep its full marks.
"""

import copy
import csv
import json
import random

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import grade as grading
from autograder import tamper
from autograder.course import source_notebook
from fixtures.hostile_submissions import ASSIGNMENT, FULL, _notebook, _solution

BASE = json.loads(_notebook(_solution()))
SOURCE = nbformat.read(str(source_notebook(ASSIGNMENT)), as_version=4)

REPLACEMENTS = [
    lambda r: None, lambda r: 42, lambda r: -1e308, lambda r: True, lambda r: "\ud800",
    lambda r: "x" * r.randint(0, 300_000), lambda r: [], lambda r: {}, lambda r: [[[[[]]]]],
    lambda r: {"nbgrader": "grade"}, lambda r: 10 ** 400, lambda r: "💥\u0000",
    lambda r: _nested(r.randint(10, 800)),
]


def _nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def mutate(raw, r, count):
    """``count`` random edits of the JSON tree ``raw`` (in place); returns it."""
    for _ in range(count):
        parent, key = None, None
        node = raw
        for _ in range(r.randint(0, 6)):  # walk down to a random place
            if isinstance(node, dict) and node:
                parent, key = node, r.choice(sorted(node, key=str))
            elif isinstance(node, list) and node:
                parent, key = node, r.randrange(len(node))
            else:
                break
            node = parent[key]
        if parent is None:
            continue
        if isinstance(parent, dict) and r.random() < 0.3:
            del parent[key]
        else:
            parent[key] = r.choice(REPLACEMENTS)(r)
    return raw


def _bytes(raw, r):
    text = json.dumps(raw, ensure_ascii=r.random() < 0.5)
    data = text.encode("utf-8", "surrogatepass")
    if r.random() < 0.15:  # cut short, a byte that is not UTF-8, or nesting no parser follows
        data = r.choice([data[: r.randrange(len(data))], data.replace(b"{", b"\xff{", 1),
                         data.replace(b'"cells": [', b'"cells": [' + b"[" * 50_000 + b"]" * 50_000 + b",", 1)])
    return data


def _pre_kernel(tmp_path, name, data):
    """Every step before a kernel: open, parse, scan, CSV row and feedback page; returns the reason."""
    path = tmp_path / f"{name}.ipynb"
    path.write_bytes(data)
    sub = grading.Submission(grading.student_id(name), path, name=name, root=tmp_path)
    _, nb, reason = grading.load_submission(sub)
    if nb is not None:
        tamper.scan(tamper.student_cells(nb, SOURCE))
        grading.nbformat.writes(nb).encode("utf-8")  # what grade_submission writes
    result = grading.GradeResult(sub.student, str(path), scores={"t": 0.0}, max_scores={"t": 1.0}, reason=reason)
    grading.write_csv([result], [("t", 1.0)], tmp_path / "grades.csv")
    grading._feedback(None, ASSIGNMENT, result, tmp_path / "feedback", write_page=False) if reason else None
    return reason


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_random_mutations_never_raise_and_unreadable_ones_get_a_one_line_reason(tmp_path, seed, count):
    r = random.Random(seed)
    data = _bytes(mutate(copy.deepcopy(BASE), r, count), r)
    reason = _pre_kernel(tmp_path, "mutant", data)
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as f:
        [row] = list(csv.DictReader(f))
    assert row["reason"] == grading.one_line(reason) and "\n" not in row["reason"]
    if reason:
        assert len(reason) < 2500


def test_mutants_graded_for_real_each_get_a_row_and_the_control_keeps_its_marks(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "control.ipynb").write_bytes(_notebook(_solution()))
    chosen = []
    for seed in range(1000):  # five mutants that still parse (they reach nbgrader) and five that do not
        r = random.Random(seed)
        data = _bytes(mutate(copy.deepcopy(BASE), r, 2), r)
        ok = grading.parse_notebook(data)[0] is not None
        if sum(1 for _, g in chosen if g == ok) < 5:
            chosen.append((data, ok))
        if len(chosen) == 10:
            break
    for k, (data, _) in enumerate(chosen):
        (subs / f"mutant{k}.ipynb").write_bytes(data)
    results = {r.student: r for r in grading.grade(ASSIGNMENT, subs, tmp_path / "out", seed=5, progress=False,
                                                   jobs=2, cell_timeout=10, timeout=120)}
    assert len(results) == 11
    assert results["control"].total == FULL and results["control"].reason == ""
    for k, (_, parses) in enumerate(chosen):
        result = results[f"mutant{k}"]
        assert parses or result.reason.startswith("not a readable notebook"), result.reason
        assert (tmp_path / "out" / "feedback" / f"mutant{k}.html").is_file()
