"""Score an assignment's test cells in this process: no kernel, no nbgrader, milliseconds each.

The real grader (tests/grading.py) costs seconds per notebook, so each assignment sends only a
handful of submissions through it. Every other mistake of its list is scored here: the source
notebook (hidden tests included) with one answer cell edited, its code cells executed in order
in one namespace, each test cell scored all or nothing as nbgrader does (an exception in a test
cell scores 0; execution goes on after it).
"""

import contextlib
import io

import nbformat

from autograder.authoring import answers
from autograder.checks import common
from autograder.course import source_notebook

SEED = 2718  # the run seed while a notebook is scored here: the same inputs in every suite run


def edited_answers(assignment, cell=None, *replacements):
    """{grade id: answer code} of the solution, with answer ``cell`` edited by (old, new) pairs."""
    filled = answers(source_notebook(assignment))
    for old, new in replacements:
        if old not in filled[cell]:
            raise ValueError(f"{assignment}/{cell}: {old!r} is not in the solution")
        filled[cell] = filled[cell].replace(old, new)
    return filled


def score(assignment, filled, skip=()):
    """Run the source notebook with answer cells ``filled``; returns {test id: (points, message)}.

    skip: grade ids of cells not to run (e.g. a long training cell and the test that needs it);
    skipped test cells are left out of the result.
    """
    nb = nbformat.read(str(source_notebook(assignment)), as_version=4)
    namespace, scores = {"__name__": "__main__"}, {}
    saved, common._seed = common._seed, SEED
    try:
        _run(nb, filled, skip, namespace, scores)
    finally:
        common._seed = saved
    return scores


def _run(nb, filled, skip, namespace, scores):
    """Execute the code cells of nb in namespace; record each test cell's score into scores."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade_id") in skip:
            continue
        code = filled.get(meta.get("grade_id"), cell.source)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, meta.get("grade_id", "cell"), "exec"), namespace)
            message = ""
        except Exception as exc:  # noqa: BLE001 (a notebook cell may raise anything)
            message = f"{type(exc).__name__}: {exc}"
        if meta.get("grade"):
            scores[meta["grade_id"]] = (0 if message else meta["points"], message)


def failed(scores):
    """The test ids that scored 0."""
    return {gid for gid, (p, _) in scores.items() if p == 0}
