"""notebooks/ and the stored data of the visible tests are what `python -m autograder release`
generates from solutions/ (nbgrader, and rnn_ref run on the solutions)."""

import nbformat
import pytest

from autograder.course import NOTEBOOKS, available_assignments
from autograder.release import STUDENT_DATA, release


@pytest.fixture(scope="session")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    release(out_dir=out, log=lambda _: None, data_dir=out / "data")
    return out


@pytest.mark.parametrize("assignment", available_assignments())
def test_student_notebook_is_up_to_date(released, assignment):
    fresh = nbformat.read(str(released / f"{assignment}.ipynb"), as_version=4)
    committed = nbformat.read(str(NOTEBOOKS / f"{assignment}.ipynb"), as_version=4)
    assert committed == fresh, (f"notebooks/{assignment}.ipynb is out of date: run "
                                f"`python -m autograder release {assignment}` and commit it")


@pytest.mark.parametrize("assignment", available_assignments())
def test_student_notebook_has_no_solution_or_hidden_test(assignment):
    text = (NOTEBOOKS / f"{assignment}.ipynb").read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text


def test_stored_reference_data_is_up_to_date(released):
    import numpy as np

    fresh = sorted(p.name for p in (released / "data").glob("*.npz"))
    assert fresh and fresh == sorted(p.name for p in STUDENT_DATA.glob("*.npz"))
    for name in fresh:
        with np.load(released / "data" / name) as new, np.load(STUDENT_DATA / name) as committed:
            same = sorted(new.files) == sorted(committed.files) and all(
                np.array_equal(new[k], committed[k]) for k in new.files)
        assert same, f"student/rnn_course/data/{name} is out of date: run `python -m autograder release`"
