"""The command line: --help, clear errors, and the self-check on a student copy (real kernels)."""

import subprocess
import sys

import nbformat
import pytest

from autograder.__main__ import main
from autograder.course import ROOT
from grading import solved, student_copy

A = "a1_elman"


@pytest.mark.parametrize("command", ["release", "check", "grade"])
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: python -m autograder " + command in capsys.readouterr().out


def test_grade_reports_a_missing_folder_and_an_unknown_assignment(tmp_path, capsys):
    assert main(["grade", A, str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["grade", "a9_transformer", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "unknown assignment 'a9_transformer'" in err and "a1_elman" in err
    assert main(["grade", A, str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no submissions" in capsys.readouterr().err


def test_check_reports_a_file_that_is_not_a_notebook(tmp_path, capsys):
    bad = tmp_path / "a1_elman.ipynb"
    bad.write_text("{ truncated")
    assert main(["check", str(bad)]) == 2
    assert "not a readable notebook" in capsys.readouterr().err


def _check(path, returncode):
    """The self-check's output; it exits 1 when a visible test lost points, and says nothing on stderr."""
    done = subprocess.run([sys.executable, "-m", "autograder", "check", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stderr) == (returncode, "")
    return done.stdout


def test_self_check_of_the_blank_copy_runs_visible_tests_and_lists_hidden_ones():
    out = _check(student_copy(A), returncode=1)
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  test_")}
    assert "0/2  CheckFailed: `make_state_function` is not implemented yet" in lines["test_state_values"]
    assert " -/1  hidden: not run here" in lines["test_state_single_unit"]
    assert "a1_elman.ipynb: 0 / 16 points from 10 visible tests; 6 hidden tests (7 points)" in out


def test_self_check_and_nbgrader_validate_pass_a_solved_student_copy(tmp_path):
    path = tmp_path / f"{A}.ipynb"
    nbformat.write(solved(A), str(path))
    assert "a1_elman.ipynb: 16 / 16 points from 10 visible tests" in _check(path, returncode=0)
    validate = subprocess.run([str(ROOT / ".venv" / "bin" / "nbgrader"), "validate", str(path)],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "Success! Your notebook passes all the tests." in validate.stdout, validate.stdout + validate.stderr
