"""``python -m autograder check NOTEBOOK``: a student's self-check of the visible tests.

The notebook is run in memory (the file is not changed) with the same executor as nbgrader's
autograde, and every test cell is scored the way nbgrader scores it. A test cell whose tests are
all hidden holds only comments in the student's copy: it is listed as hidden and not run here.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class TestReport:
    """One test cell: its id, points earned (None when hidden), maximum, and a message."""

    grade_id: str
    points: float | None
    max_points: float
    message: str


def _is_hidden(source):
    """A student copy's hidden test cell: nothing but comments and blank lines."""
    return all(not ln.strip() or ln.strip().startswith("#") for ln in source.splitlines())


def _message(cell):
    for output in cell.outputs:
        if output.output_type == "error":
            return _ANSI.sub("", f"{output.ename}: {output.evalue}")
        if output.output_type == "stream" and output.name == "stderr":
            return "wrote to stderr (nbgrader scores that 0): " + output.text.strip()[:300]
    return "ok"


def self_check(path, timeout=60):
    """Run the notebook at ``path`` and return [TestReport] for its test cells, in order."""
    from nbgrader.preprocessors import Execute
    from nbgrader.utils import determine_grade, is_grade, is_solution

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    # the kernel's own start-up notes (ipykernel warns that its local TCP channel is unencrypted)
    # are not the student's business: only errors reach the terminal
    Execute(timeout=timeout, extra_arguments=["--IPKernelApp.log_level=ERROR"]).preprocess(
        nb, {"metadata": {"path": str(path.parent.resolve())}})
    reports = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            continue
        meta = cell.metadata["nbgrader"]
        if _is_hidden(cell.source):
            reports.append(TestReport(meta["grade_id"], None, float(meta["points"]),
                                      "hidden: not run here; it runs when your notebook is graded"))
            continue
        points, max_points = determine_grade(cell)
        message = _message(cell)
        if "BEGIN HIDDEN TESTS" in cell.source:
            message += " (instructor copy: includes hidden tests)"
        reports.append(TestReport(meta["grade_id"], points, max_points, message))
    return reports


def format_reports(name, reports):
    """The self-check as text: one line per test and the totals of visible and hidden tests."""
    visible = [r for r in reports if r.points is not None]
    hidden = [r for r in reports if r.points is None]
    width = max([len(r.grade_id) for r in reports] + [4])
    lines = []
    for r in reports:
        score = " -" if r.points is None else f"{r.points:g}".rjust(2)
        lines.append(f"  {r.grade_id.ljust(width)}  {score}/{r.max_points:g}  {r.message}")
    got = sum(r.points for r in visible)
    lines.append(f"{name}: {got:g} / {sum(r.max_points for r in visible):g} points from "
                 f"{len(visible)} visible tests; {len(hidden)} hidden tests "
                 f"({sum(r.max_points for r in hidden):g} points) run only at grading.")
    return "\n".join(lines)
