"""Shared helpers of the assignment tests: build submissions and grade them with the real grader.

A submission is the released student notebook with its answer cells filled in: with the
solution (:func:`solved`), or with the solution changed by text replacements into a usual
mistake (:func:`mutant`). :func:`grade_all` writes them to a submissions folder and runs the
whole ``grade`` command once (one nbgrader course, one kernel per notebook), so a test module
grades all its submissions in one session fixture.
"""

import csv
import hashlib
import html
from pathlib import Path

import nbformat

from autograder.authoring import answers, fill
from autograder.course import NOTEBOOKS, source_notebook
from autograder.grade import grade, grade_cells


def student_copy(assignment):
    """Path of the released student notebook."""
    return NOTEBOOKS / f"{assignment}.ipynb"


def points(assignment):
    """{grade id: points} of the assignment's test cells, in notebook order."""
    return dict(grade_cells(source_notebook(assignment)))


def solved(assignment, **changes):
    """The student copy with every answer cell holding the solution; ``changes`` replace cells."""
    filled = answers(source_notebook(assignment))
    filled.update(changes)
    return fill(student_copy(assignment), filled)


def mutant(assignment, cell, *replacements):
    """The solved notebook with answer ``cell`` edited: replacements are (old, new) text pairs.

    Each ``old`` must occur in the solution, so a mutant cannot silently stop being one.
    """
    code = answers(source_notebook(assignment))[cell]
    for old, new in replacements:
        if old not in code:
            raise ValueError(f"mutant of {assignment}/{cell}: {old!r} is not in the solution")
        code = code.replace(old, new)
    return solved(assignment, **{cell: code})


def combined_mutant(assignment, table, names):
    """One notebook carrying several mutants of ``table`` at once (fewer kernels to start).

    table: {name: (answer cell, [(old, new), ...], failing tests, phrase)}; the mutants must edit
    different answer cells and their failing tests must not overlap, so that each one's effect
    is still seen alone.
    """
    code = answers(source_notebook(assignment))
    cells = [table[n][0] for n in names]
    if len(set(cells)) != len(cells):
        raise ValueError(f"mutants {names} edit the same answer cell")
    failing = [table[n][2] for n in names]
    if len(set().union(*failing)) != sum(map(len, failing)):
        raise ValueError(f"mutants {names} fail overlapping tests")
    for name in names:
        cell, replacements = table[name][:2]
        for old, new in replacements:
            if old not in code[cell]:
                raise ValueError(f"mutant {name}: {old!r} is not in the solution of {cell}")
            code[cell] = code[cell].replace(old, new)
    return fill(student_copy(assignment), code)


def write_submissions(folder, assignment, notebooks, nested=()):
    """Write {student: notebook or bytes} to ``folder``: flat (<student>.ipynb) unless in nested.

    Students in ``nested`` get nbgrader's layout, <student>/<assignment>/<assignment>.ipynb.
    """
    folder = Path(folder)
    for student, nb in notebooks.items():
        path = (folder / student / assignment / f"{assignment}.ipynb" if student in nested
                else folder / f"{student}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        else:
            nbformat.write(nb, str(path))
    return folder


def tree_hashes(folder):
    """{relative path: sha256} of every file under ``folder`` (to prove nothing was touched)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def grade_all(assignment, notebooks, tmp, nested=(), seed=None):
    """Grade {student: notebook} with ``autograder.grade``; returns (results by student, out dir).

    Also checks that the submissions folder is byte-identical after grading.
    """
    tmp = Path(tmp)
    folder = write_submissions(tmp / "submissions", assignment, notebooks, nested)
    before = tree_hashes(folder)
    out = tmp / "out"
    results = grade(assignment, folder, out, seed=seed, progress=False)
    assert tree_hashes(folder) == before, "grading changed the submissions folder"
    return {r.student: r for r in results}, out


def read_csv(out):
    """grades.csv as {student: row dict}."""
    with open(Path(out) / "grades.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def feedback_text(out, student):
    """The feedback HTML of one student, entities decoded (quotes, <, >), whitespace runs made
    single spaces (messages are wrapped for display)."""
    text = html.unescape((Path(out) / "feedback" / f"{student}.html").read_text(encoding="utf-8"))
    return " ".join(text.split())


def failed_tests(result):
    """The grade ids on which ``result`` scored less than the maximum."""
    return {gid for gid, p in result.scores.items() if p < result.max_scores[gid]}
