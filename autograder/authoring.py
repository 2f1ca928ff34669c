"""Building nbgrader notebooks in code: the cell kinds of a source notebook, and filled-in copies.

Used to write the assignment sources and, in the tests, to fill a student copy with answers
(the solution, or a mutant of it). See autograder/AUTHORING.md.
"""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"


def _meta(grade_id, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
            "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(text):
    """Explanations (not locked: students may annotate)."""
    return new_markdown_cell(text.strip())


def readonly(source, grade_id):
    """Code the student runs but may not change (setup, given functions, plots)."""
    return new_code_cell(source.strip(), metadata=_meta(grade_id, locked=True))


def solution(source, grade_id):
    """An answer cell: the lines between ### BEGIN/END SOLUTION become the stub in the release."""
    return new_code_cell(source.strip(), metadata=_meta(grade_id, solution=True))


def test(source, grade_id, points):
    """An autograded test cell worth ``points``; may hold ### BEGIN/END HIDDEN TESTS."""
    return new_code_cell(source.strip(), metadata=_meta(grade_id, grade=True, locked=True,
                                                        points=points))


def notebook(cells):
    """A v4 notebook on the python3 kernel."""
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def solution_code(source_cell):
    """The code of a source notebook's answer cell as a student would hand it in (markers removed)."""
    return "\n".join(ln for ln in source_cell.source.splitlines()
                     if ln.strip() not in (SOLUTION_BEGIN, SOLUTION_END))


def answers(source_path):
    """{grade id: answer code} for every answer cell of a source notebook."""
    nb = nbformat.read(str(source_path), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: solution_code(c) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}


def fill(student_path, filled):
    """A copy of the student notebook with answer cells replaced: filled = {grade id: code}."""
    nb = nbformat.read(str(student_path), as_version=4)
    unknown = set(filled) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if unknown:
        raise KeyError(f"no answer cells named {sorted(unknown)} in {student_path}")
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in filled:
            cell.source = filled[gid]
    return nb


INSTALL_ID = "install"
_INSTALL = '''# Set-up: installs the course's package (rnn-course-student) when it is missing, from a wheel
# file next to this notebook or else from the published course, then loads it.
# The course: {url}
import subprocess
import sys
from pathlib import Path

COURSE = "{url}"
WHEEL = "{wheel}"
try:
    import rnn_course
except ImportError:
    source = WHEEL if Path(WHEEL).is_file() else COURSE + "notebooks/" + WHEEL
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--retries", "0", "--timeout", "15",
                    source], capture_output=True)
    try:
        import rnn_course
    except ImportError:
        rnn_course = None
        print(f"The course package is not installed and could not be: put {{WHEEL}} (from "
              f"{{COURSE}}notebooks/) next to this notebook, or connect to the internet, and run this cell again.")
if rnn_course is not None:
    print(f"rnn-course-student {{rnn_course.__version__}}")'''


def install_cell(url, wheel):
    """The first code cell of every notebook: install the student package if missing (see above)."""
    return readonly(_INSTALL.format(url=url, wheel=wheel), INSTALL_ID)


def written(model_answer, grade_id, points):
    """A written answer graded by hand (nbgrader "manually graded answer"): a markdown cell whose
    source is the model answer; the release replaces it with nbgrader's "YOUR ANSWER HERE"."""
    return new_markdown_cell(model_answer.strip(), metadata=_meta(grade_id, grade=True, solution=True,
                                                                  points=points))


def written_ids(notebook_path):
    """[(grade id, points)] of the written (hand-graded) answer cells, in notebook order."""
    nb = nbformat.read(str(notebook_path), as_version=4)
    return [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]))
            for c in nb.cells if c.cell_type == "markdown"
            and c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution")]


def written_answers(source_path):
    """{grade id: model answer} of the written answer cells of a source notebook."""
    nb = nbformat.read(str(source_path), as_version=4)
    ids = dict(written_ids(source_path))
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade_id") in ids}
