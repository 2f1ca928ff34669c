"""The grader against broken and hostile submissions (tests/fixtures/bad_submissions.py).

The whole corpus is graded in ONE run of the real grader (two worker processes, 5 s per cell),
shared by every test here; then the same folder is graded again to prove that regrading changes
nothing and that an interrupted run resumes with the ungraded submissions only.
"""

import csv
import hashlib
import html
import os
from pathlib import Path

import nbformat
import pytest

from autograder.grade import grade
from fixtures.bad_submissions import (ASSIGNMENT, EXPECTED, FULL, READ_TARGETS, WRITE_TARGETS,
                                      corpus)

NESTED = {"good_b"}  # one student in nbgrader's folder layout, the others as <student>.ipynb
SEED = 11


def _digests(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _rows(out):
    with open(Path(out) / "grades.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _run(subs, out):
    return grade(ASSIGNMENT, subs, out, seed=SEED, progress=False, jobs=2, cell_timeout=5, timeout=300)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("badinput")
    subs, out = root / "submissions", root / "out"
    for student, data in corpus().items():
        path = (subs / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb" if student in NESTED
                else subs / f"{student}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    before = _digests(subs)
    results = _run(subs, out)
    return {"subs": subs, "out": out, "before": before, "results": results, "rows": _rows(out)}


def test_every_submission_is_in_grades_csv(graded):
    assert sorted(graded["rows"]) == sorted(EXPECTED)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_score_and_one_line_reason(graded, student):
    score, words = EXPECTED[student]
    row = graded["rows"][student]
    assert float(row["total"]) == score, row
    assert float(row["max"]) == FULL
    assert "\n" not in row["reason"]
    if words:
        assert words in row["reason"], row["reason"]
        feedback = (graded["out"] / "feedback" / f"{student}.html").read_text(encoding="utf-8")
        assert html.escape(row["reason"]) in feedback
    else:
        assert row["reason"] == ""


def test_good_students_get_every_point_next_to_the_hostile_ones(graded):
    for result in graded["results"]:
        if result.student in ("good_a", "good_b"):
            assert result.scores == result.max_scores


def test_submissions_are_byte_identical_after_grading(graded):
    assert _digests(graded["subs"]) == graded["before"]


def _outputs(graded, student):
    path = graded["out"] / "course" / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("student", ["read_solutions", "other_kernel"])
def test_reading_solutions_gradebook_or_another_student_fails(graded, student):
    printed = _outputs(graded, student)
    assert "LEAKED" not in printed
    assert printed.count("blocked") == len(READ_TARGETS)


def test_writing_outside_the_working_directory_fails(graded):
    """Only the sandbox's private /tmp and working directory (both tmpfs) are writable: the
    course's source stays read-only, and nothing planted reaches the grader's machine."""
    printed = _outputs(graded, "write_outside")
    assert "PLANTED ../../../source" not in printed and "PLANTED /tmp/../planted.txt" not in printed
    assert printed.count("blocked") == len(WRITE_TARGETS) - 1  # ../../../ is the private /tmp
    assert not list(graded["out"].rglob("planted.txt"))
    assert not os.path.exists("/planted.txt") and not os.path.exists("/tmp/planted.txt")


def test_huge_output_is_cut_in_the_feedback(graded):
    size = (graded["out"] / "feedback" / "print_100mb.html").stat().st_size
    assert size < 2_000_000


def test_regrading_changes_nothing_and_an_interrupted_run_resumes(graded):
    out, first = graded["out"], graded["rows"]
    # as if the first run had stopped before these three were graded
    resumed = ["good_a", "not_json", "tests_edited"]
    for student in resumed:
        (out / "journal" / f"{student}.json").unlink()
    autograded = out / "course" / "autograded"
    stamps = {p.parent.parent.name: p.stat().st_mtime_ns for p in autograded.glob(f"*/{ASSIGNMENT}/*.ipynb")}
    _run(graded["subs"], out)
    assert _rows(out) == first
    again = {p.parent.parent.name: p.stat().st_mtime_ns for p in autograded.glob(f"*/{ASSIGNMENT}/*.ipynb")}
    regraded = sorted(s for s in again if again[s] != stamps.get(s))
    assert regraded == ["good_a", "tests_edited"]  # not_json never reaches nbgrader


def test_a_submission_over_the_time_limit_scores_0_and_says_why(tmp_path):
    from fixtures.bad_submissions import slow_submission

    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "slow.ipynb").write_bytes(slow_submission(cells=10, seconds=3))
    [result] = grade(ASSIGNMENT, tmp_path / "subs", tmp_path / "out", seed=SEED, progress=False,
                     cell_timeout=5, timeout=8)
    assert result.total == 0
    assert result.reason == "stopped after 8 s: the notebook took too long to grade"
    feedback = (tmp_path / "out" / "feedback" / "slow.html").read_text()
    assert html.escape(result.reason) in feedback


def test_tamper_scan_passes_every_solution_and_catches_the_usual_tricks():
    from autograder.course import available_assignments, source_notebook
    from autograder.tamper import scan

    for assignment in available_assignments():  # the solutions and tests themselves: no finding
        nb = nbformat.read(str(source_notebook(assignment)), as_version=4)
        assert scan([(str(i), c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]) == []
    legit = "import torch, re\nfor m in torch.nn.GRU(2, 3).modules(): pass\nr = re.compile('x')\n%matplotlib inline"
    assert scan([("legit", legit)]) == []
    tricks = ["import numpy as np\nn = np\nn.testing.assert_allclose = print",
              "import numpy\nsetattr(numpy, 'allclose', lambda *a: True)",
              "exec('import numpy; numpy.max = abs')",
              "import sys\ndel sys.modules['autograder.checks.elman']",
              "import importlib",
              "from autograder.checks import common\ncommon.__dict__['assert_close'] = print"]
    for code in tricks:
        assert scan([("answer", code)]), code
