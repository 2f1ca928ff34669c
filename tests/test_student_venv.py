"""The notebooks run anywhere: a second virtualenv with what a student has, and nothing of this repo.

The virtualenv (``_build/student-venv``) holds numpy 1.26.4 (not the course's pinned numpy),
matplotlib, torch, the Jupyter kernel and executor, and the one wheel of ``_build/student``; no
rnn_ref, no autograder. It is made once and kept while its requirements are the same (a stamp
file records them); the wheel is reinstalled on every run. Each blank notebook must run to its
failing checks, each failing with a message (no import error, no traceback through the package);
each notebook filled with the solutions must pass every visible test.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.authoring import answers, fill
from autograder.course import NOTEBOOKS, ROOT, available_assignments, source_notebook
from test_student_edition import edition, wheel_path  # noqa: F401 (the session fixture: make student)

VENV = ROOT / "_build" / "student-venv"
REQUIREMENTS = ["numpy==1.26.4", "matplotlib==3.11.2", "torch==2.13.0", "ipykernel==7.4.0",
                "nbclient==0.11.0", "nbformat==5.11.1"]
PORTABLE = available_assignments()
RUNNER = r"""
import json, sys
import nbformat
from nbclient import NotebookClient

results = {}
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}}).execute()
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [(o.ename, o.evalue) for o in cell.outputs if o.output_type == "error"]
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        cells.append({"id": cell.metadata.get("nbgrader", {}).get("grade_id"),
                      "test": bool(cell.metadata.get("nbgrader", {}).get("grade")),
                      "source": cell.source, "errors": errors, "text": text})
    results[path] = cells
json.dump(results, sys.stdout)
"""


def python():
    return VENV / "bin" / "python"


@pytest.fixture(scope="module")
def student_python(edition):  # noqa: F811
    """The student virtualenv's python, made (or reused) with REQUIREMENTS and the built wheel."""
    stamp = VENV / "requirements.json"
    if not (stamp.is_file() and json.loads(stamp.read_text()) == REQUIREMENTS and python().is_file()):
        base = os.path.join(sys.base_prefix, "bin", "python3")  # the interpreter, not this venv
        subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True, timeout=300)
        done = subprocess.run([str(python()), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", *REQUIREMENTS],
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        stamp.write_text(json.dumps(REQUIREMENTS))
    done = subprocess.run([str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--force-reinstall", "--no-deps", str(wheel_path(edition))],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return python()


def answer_variables(assignment):
    """Names that answer cells assign at top level (short answers such as ``answer_factor_05 = ...``):
    a blank notebook leaves them undefined, so their test cells stop at a NameError."""
    import re

    return {v for code in answers(source_notebook(assignment)).values()
            for v in re.findall(r"^([A-Za-z_]\w*)\s*=", code, re.M)}


def run_notebooks(student_python, paths, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run([str(student_python), "-c", RUNNER, *map(str, paths)], capture_output=True,
                          text=True, timeout=1800, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_venv_has_the_other_numpy_and_none_of_the_repository(student_python):
    probe = ("import numpy, importlib.util as u, rnn_course; print(numpy.__version__, rnn_course.__version__, "
             "u.find_spec('rnn_ref') is None, u.find_spec('autograder') is None, rnn_course.__file__)")
    out = subprocess.run([str(student_python), "-c", probe], capture_output=True, text=True, timeout=300,
                         cwd="/").stdout.split()
    assert out[:1] == ["1.26.4"] and out[2:4] == ["True", "True"], out
    assert str(ROOT / "student") not in out[4]  # the installed wheel, not the source folder


def test_blank_notebooks_run_to_failing_checks_with_messages(student_python, edition, tmp_path):  # noqa: F811
    paths = []
    for assignment in PORTABLE:
        target = tmp_path / f"{assignment}.ipynb"
        target.write_bytes((edition / "notebooks" / f"{assignment}.ipynb").read_bytes())
        paths.append(target)
    results = run_notebooks(student_python, paths, tmp_path)
    for path, cells in results.items():
        name = Path(path).name
        assert "rnn-course-student" in cells[0]["text"], (name, cells[0])
        for cell in cells:
            kinds = {e[0] for e in cell["errors"]}
            assert not kinds & {"ModuleNotFoundError", "ImportError", "AttributeError"}, (name, cell)
            visible_test = cell["test"] and "check." in cell["source"]
            if visible_test:
                unanswered = {f"name '{v}' is not defined" for v in answer_variables(name[:-6])}
                errors = [e for e in cell["errors"] if not (e[0] == "NameError" and e[1] in unanswered)]
                assert cell["errors"] and {e[0] for e in errors} <= {"CheckFailed", "ForbiddenShortcut"}, (name, cell)
                assert all(len(e[1]) > 20 for e in errors), (name, cell)
            elif not cell["test"] and cell["id"] in ("install", "setup", "plot"):
                assert not cell["errors"], (name, cell)


def test_notebooks_filled_with_the_solutions_pass_every_visible_test(student_python, tmp_path):
    paths = []
    for assignment in PORTABLE:
        target = tmp_path / f"{assignment}.ipynb"
        nbformat.write(fill(NOTEBOOKS / f"{assignment}.ipynb", answers(source_notebook(assignment))), str(target))
        paths.append(target)
    results = run_notebooks(student_python, paths, tmp_path)
    for path, cells in results.items():
        failing = [(c["id"], c["errors"]) for c in cells if c["errors"]]
        assert failing == [], (Path(path).name, failing)
        assert sum(c["test"] and "check." in c["source"] for c in cells) >= 3


def test_the_first_cell_says_in_one_sentence_when_it_cannot_install(student_python, tmp_path):
    """No package importable (python -S: no site-packages), no wheel next to the notebook, the
    published address unreachable or without the wheel: one sentence, no traceback."""
    nb = nbformat.read(str(NOTEBOOKS / "a1_elman.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "install")
    done = subprocess.run([str(student_python), "-S", "-c", cell.source], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("The course package is not installed"), done.stdout
