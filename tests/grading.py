"""Shared helpers of the assignment tests: build submissions and grade them with the real grader.

A submission is the released student notebook with its answer cells filled in: with the
solution (:func:`solved`), or with the solution changed by text replacements into a usual
mistake (:func:`mutant`). :func:`grade_all` writes them to a submissions folder and runs the
whole ``grade`` command once (one nbgrader course, one kernel per notebook), so a test module
grades all its submissions in one fixture.

:class:`AssignmentTests` holds the tests every assignment shares (its mutants scored in process,
one real ``grade`` run of the solution, the blank copy and a few mutants); each
``tests/test_<id>.py`` subclasses it with its own mutant table and graded set.
"""

import csv
import hashlib
import html
import re
import warnings
from pathlib import Path

import nbformat
import pytest

import notebook_cells

from autograder.authoring import answers, fill, written_answers
from autograder.course import NOTEBOOKS, source_notebook
from autograder.grade import grade, grade_cells


def student_copy(assignment):
    """Path of the released student notebook."""
    return NOTEBOOKS / f"{assignment}.ipynb"


def points(assignment):
    """{grade id: points} of the assignment's test cells, in notebook order."""
    return dict(grade_cells(source_notebook(assignment)))


def solved(assignment, **changes):
    """The student copy with every answer cell holding the solution (the written answers their
    model answer); ``changes`` replace cells."""
    filled = {**answers(source_notebook(assignment)), **written_answers(source_notebook(assignment))}
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

    Also checks that the submissions folder is byte-identical after grading. Warnings raised
    while grading (nbgrader's own, the kernels') are ignored.
    """
    tmp = Path(tmp)
    folder = write_submissions(tmp / "submissions", assignment, notebooks, nested)
    before = tree_hashes(folder)
    out = tmp / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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


def hidden_checks(assignment):
    """The ``check.<name>`` calls inside the hidden-test regions of the source notebook."""
    nb = nbformat.read(str(source_notebook(assignment)), as_version=4)
    regions = re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS",
                         "\n".join(c.source for c in nb.cells if c.cell_type == "code"), re.S)
    return sorted({call for region in regions for call in re.findall(r"check\.\w+", region)})


class AssignmentTests:
    """The tests every assignment shares. A ``tests/test_<id>.py`` subclasses it as ``Test...``
    and sets the class attributes below; tests of its own go in the subclass (they may use the
    ``graded`` fixture and ``self.submissions()``).

    assignment: the id, e.g. "a4_lstm".
    mutants: {name: (answer cell, [(old, new), ...], tests that must fail, phrase the feedback
        must contain)}, the mistake list; every one is scored in process (milliseconds each).
    graded_mutants: {student: (mutant names)}, the notebooks graded for real, beside the
        solution and the blank copy, in one ``grade`` run (one kernel per notebook: keep it
        short). Several names make one notebook (:func:`combined_mutant`: different answer
        cells, disjoint failing tests).
    graded_failing: {mutant name: tests that must fail when graded for real}, where that differs
        from the table (a test skipped in process fails too).
    seed, nested: passed to :func:`grade_all`.
    skip_in_process: grade ids not run in process (a long training cell and the tests needing it).
    """

    assignment = None
    mutants = {}
    graded_mutants = {}
    graded_failing = {}
    seed = None
    nested = ()
    skip_in_process = ()

    def pytest_generate_tests(self, metafunc):
        """Parametrize ``name`` over the mutant table and ``student`` over the graded mutants."""
        if "name" in metafunc.fixturenames:
            metafunc.parametrize("name", sorted(self.mutants))
        if "student" in metafunc.fixturenames:
            metafunc.parametrize("student", list(self.graded_mutants),
                                 ids=["+".join(names) for names in self.graded_mutants.values()])

    @classmethod
    def failing(cls, name):
        """The tests mutant ``name`` must fail when graded for real."""
        return cls.graded_failing.get(name, cls.mutants[name][2])

    @classmethod
    def max_points(cls):
        return sum(points(cls.assignment).values())

    @classmethod
    def submissions(cls):
        """{student: notebook} of the real grading run: solution, blank copy, graded mutants."""
        A = cls.assignment
        table = {name: (cell, replacements, cls.failing(name), phrase)
                 for name, (cell, replacements, _, phrase) in cls.mutants.items()}
        return {"solution": solved(A), "blank": nbformat.read(str(student_copy(A)), as_version=4),
                **{student: combined_mutant(A, table, names)
                   for student, names in cls.graded_mutants.items()}}

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory):
        """Every submission graded in one run: (results by student, output folder)."""
        return grade_all(cls.assignment, cls.submissions(), tmp_path_factory.mktemp(cls.assignment),
                         nested=cls.nested, seed=cls.seed)

    # --- in process ------------------------------------------------------------------------------

    def test_mutant_in_process_fails_exactly_its_tests_with_a_message_naming_the_mistake(self, name):
        cell, replacements, failing, phrase = self.mutants[name]
        filled = notebook_cells.edited_answers(self.assignment, cell, *replacements)
        scores = notebook_cells.score(self.assignment, filled, skip=self.skip_in_process)
        assert notebook_cells.failed(scores) == failing
        assert any(phrase in message for _, message in scores.values())

    def test_solution_in_process_passes_every_test_but_the_skipped_ones(self):
        scores = notebook_cells.score(self.assignment, notebook_cells.edited_answers(self.assignment),
                                      skip=self.skip_in_process)
        assert notebook_cells.failed(scores) == set()
        assert set(scores) == set(points(self.assignment)) - set(self.skip_in_process)

    # --- graded for real -------------------------------------------------------------------------

    def test_solution_gets_full_marks(self, graded):
        result = graded[0]["solution"]
        assert result.reason == ""
        assert result.total == result.max_total == self.max_points()

    def test_blank_student_copy_scores_zero(self, graded):
        result = graded[0]["blank"]
        assert result.reason == "" and result.total == 0

    def test_graded_mutants_lose_exactly_their_tests_and_feedback_names_each_mistake(self, graded, student):
        results, out = graded
        names = self.graded_mutants[student]
        expected = set().union(*(self.failing(name) for name in names))
        assert failed_tests(results[student]) == expected
        assert results[student].total == self.max_points() - sum(points(self.assignment)[t] for t in expected)
        text = feedback_text(out, student)
        for name in names:
            assert self.mutants[name][3] in text, name

    def test_feedback_shows_no_hidden_test(self, graded):
        results, out = graded
        hidden = hidden_checks(self.assignment)
        assert hidden, "the source notebook has no hidden test"
        for student in results:
            text = feedback_text(out, student)
            assert "HIDDEN TESTS" not in text, student
            for call in hidden:
                assert call not in text, (student, call)
        assert "(hidden tests: their code is not shown)" in feedback_text(out, "solution")
