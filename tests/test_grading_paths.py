"""The grader's fast path against plain ``nbgrader autograde``: the same class, the same grades.

``python -m autograder grade`` (two worker processes, as the command's default) forks each
notebook's kernel from a warm zygote
(autograder.zygote) and renders feedback with one exporter per run (autograder.feedback);
plain nbgrader starts a fresh ipykernel per notebook and a fresh exporter per page. A mixed class
of a1_elman (the solution, the blank copy, three mutants that lose different tests, and a file
that is not a notebook) is graded both ways with the same seed; every test's points in
grades.csv must equal nbgrader's gradebook, and each feedback page must show the same points and
the same failure (exception and first line of its message) for every test.
"""

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import zygote
from autograder.containment import sandbox_status
from autograder.course import generate_assignment, make_course_dir, source_notebook
from autograder.grade import grade, grade_cells
from grading import mutant, solved, student_copy

A = "a1_elman"
SEED = 4321
MUTANTS = {  # (answer cell, replacements); none of them trips the tamper scan
    "missing_tanh": ("answer_state_output",
                     [("return np.tanh(x @ Wx + h_prev @ Wh + b)", "return x @ Wx + h_prev @ Wh + b")]),
    "states_with_s0": ("answer_unroll", [("states, ys = [], []", "states, ys = [s0], []")]),
    "h0_ignored": ("answer_forward", [("h = h0", "h = np.zeros_like(h0)")]),
}


def write_class(folder):
    """The mixed class: {student: notebook bytes}, written as <student>.ipynb into ``folder``."""
    notebooks = {"solution": solved(A), "blank": nbformat.read(str(student_copy(A)), as_version=4)}
    notebooks.update({f"mutant_{name}": mutant(A, cell, *repl) for name, (cell, repl) in MUTANTS.items()})
    files = {student: nbformat.writes(nb).encode() for student, nb in notebooks.items()}
    files["broken"] = b'{"cells": [ this is not JSON'
    folder.mkdir(parents=True)
    for student, data in files.items():
        (folder / f"{student}.ipynb").write_bytes(data)
    return files


def plain_nbgrader(course, files, env):
    """Plain ``nbgrader autograde`` and ``generate_feedback`` on the same files: {student: {test: points}}."""
    from nbgrader.api import Gradebook, MissingEntry

    api = make_course_dir(course, A)
    generate_assignment(api, A)
    for student, data in files.items():
        target = course / "submitted" / student / A
        target.mkdir(parents=True)
        (target / f"{A}.ipynb").write_bytes(data)
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    for command in ("autograde", "generate_feedback"):  # exits 1 for the broken file, grades the rest
        subprocess.run([nbgrader, command, A], cwd=course, env=env, capture_output=True, timeout=900)
    scores = {}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for student in files:
            try:
                nb = gb.find_submission_notebook(A, A, student)
                scores[student] = {g.name: float(g.score or 0.0) for g in nb.grades if g.name in TESTS}
            except MissingEntry:
                scores[student] = {}
    return scores


TESTS = dict(grade_cells(source_notebook(A)))  # the written answers (graded by hand) included
AUTOGRADED = {c.metadata.nbgrader["grade_id"] for c in nbformat.read(str(source_notebook(A)), as_version=4).cells
              if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.nbgrader.get("solution")}


def failures(notebook_path):
    """{test: (exception name, first line of its message)} of the failed tests of an autograded notebook."""
    out = {}
    for cell in nbformat.read(str(notebook_path), as_version=4).cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in TESTS:
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors:
                out[gid] = (errors[0].ename, (errors[0].evalue.strip().splitlines() or [""])[0])
    return out


def page_results(page):
    """{test: points shown} from a feedback page's table of contents, and the page's text."""
    text = page.read_text(encoding="utf-8")
    shown = {gid: float(score) for gid, score in
             re.findall(r'<a href="#([\w-]+)">Test cell</a> \(Score: ([\d.]+) / [\d.]+\)', text)}
    return shown, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    if not sandbox_status()[0] or not zygote.usable(True):
        pytest.skip("the fast path needs root and bubblewrap (it falls back to the classic kernel start)")
    tmp = tmp_path_factory.mktemp("paths")
    files = write_class(tmp / "class")
    log = tmp / "zygote.log"  # the zygotes of the grader's two workers say when they fork
    os.environ["AUTOGRADER_ZYGOTE_LOG"] = str(log)
    try:
        results = grade(A, tmp / "class", tmp / "fast", seed=SEED, progress=False, jobs=2)
    finally:
        del os.environ["AUTOGRADER_ZYGOTE_LOG"]
    text = log.read_text() if log.exists() else ""
    # a notebook's kernel is forked when it starts, or was forked ahead (a spare) and taken
    forked = len(re.findall(r"^kernel \d+ forked$", text, re.M)) + text.count(" forked ahead, taken")
    env = dict(os.environ, AUTOGRADER_SEED=str(SEED),
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    plain = plain_nbgrader(tmp / "plain", files, env)
    yield {r.student: r for r in results}, plain, tmp, forked
    shutil.rmtree(tmp, ignore_errors=True)


def test_every_graded_notebook_ran_in_a_kernel_forked_for_it(both):
    fast, _, _, forked = both
    assert forked == sum(1 for r in fast.values() if not r.reason) == 5


def test_grades_equal_plain_nbgrader_test_by_test(both):
    fast, plain, _, _ = both
    assert set(fast) == set(plain)
    for student, result in fast.items():
        expected = {gid: plain[student].get(gid, 0.0) for gid in TESTS}
        assert result.scores == expected, student
    # the class is mixed: full marks, nothing, partial marks, and a file that is no notebook
    totals = {s: r.total for s, r in fast.items()}
    assert totals["solution"] == sum(TESTS[gid] for gid in AUTOGRADED) > 0
    assert totals["blank"] == 0 == totals["broken"]
    assert all(0 < totals[f"mutant_{m}"] < totals["solution"] for m in MUTANTS)
    assert len({totals[f"mutant_{m}"] for m in MUTANTS} | {0}) >= 3
    assert "not a readable notebook" in fast["broken"].reason


def test_feedback_shows_the_same_result_for_every_test(both):
    fast, _, tmp, _ = both
    for student, result in fast.items():
        if result.reason:
            continue
        ours, our_text = page_results(tmp / "fast" / "feedback" / f"{student}.html")
        theirs, their_text = page_results(tmp / "plain" / "feedback" / student / A / f"{A}.html")
        assert ours == theirs == {gid: result.scores[gid] for gid in TESTS}, student
        fast_failures = failures(tmp / "fast" / "course" / "autograded" / student / A / f"{A}.ipynb")
        plain_failures = failures(tmp / "plain" / "autograded" / student / A / f"{A}.ipynb")
        assert set(fast_failures) == set(plain_failures), student
        for gid, (name, first_line) in plain_failures.items():
            assert fast_failures[gid][0] == name, (student, gid)
            message = " ".join(first_line.split())
            assert message in our_text and message in their_text, (student, gid, message)


def without_grader_boxes(page):
    """A feedback page without the boxes the grader adds at the top (its note, the final score)."""
    from autograder.outputs import BOX_END, BOX_START

    page = re.sub(re.escape("\n" + BOX_START) + ".*?" + re.escape(BOX_END + "\n"), "", page, flags=re.S)
    return re.sub(r'\n<div class="grader-note" [^>]*>.*?</div>\n', "", page, count=1, flags=re.S)


def test_feedback_pages_are_nbgraders_own_rendering_byte_for_byte(both):
    """The grader renders feedback with one exporter per worker whose filters remember the cells
    every page shares (autograder.feedback): each page is exactly the one ``nbgrader
    generate_feedback`` (a new exporter per page) renders from the same graded notebook."""
    fast, _, tmp, _ = both
    course = tmp / "fast" / "course"
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_feedback", A, "--force"],
                   cwd=course, capture_output=True, timeout=600, check=True)
    compared = 0
    for student, result in fast.items():
        if result.reason:
            continue
        ours = (tmp / "fast" / "feedback" / f"{student}.html").read_text(encoding="utf-8")
        theirs = (course / "feedback" / student / A / f"{A}.html").read_text(encoding="utf-8")
        assert without_grader_boxes(ours) == theirs, student
        compared += 1
    assert compared == 5
