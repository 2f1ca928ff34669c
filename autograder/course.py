"""The course: its assignments, where their sources live, and nbgrader course directories.

To add an assignment, put its source at ``solutions/<id>/<id>.ipynb`` and its id in
:data:`ASSIGNMENTS` (in course order); ``python -m autograder release`` then generates
``notebooks/<id>.ipynb``.
"""

import os
import shutil
import sys
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
CONFIG_FILE = Path(__file__).resolve().parent / "nbgrader_config.py"

ASSIGNMENTS = ("a1_elman", "a2_bptt", "a3_vanishing", "a4_lstm", "a5_gru", "a6_birnn", "a7_charlm")


class UnknownAssignment(ValueError):
    """An assignment id that is not in ASSIGNMENTS or has no source notebook yet."""


def source_notebook(assignment):
    """Path of the nbgrader source of ``assignment``; UnknownAssignment if there is none."""
    if assignment not in ASSIGNMENTS:
        raise UnknownAssignment(f"unknown assignment {assignment!r}; the course has: "
                                f"{', '.join(ASSIGNMENTS)}")
    path = SOLUTIONS / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        raise UnknownAssignment(f"assignment {assignment!r} has no source notebook yet ({path})")
    return path


def available_assignments():
    """The assignments whose source notebook exists, in course order."""
    return [a for a in ASSIGNMENTS if (SOLUTIONS / a / f"{a}.ipynb").is_file()]


def load_config(course_dir):
    """The course's nbgrader Config, with the course directory as root."""
    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    config.CourseDirectory.root = str(course_dir)
    return config


def _tools_on_path():
    """nbgrader runs the ``alembic`` command of its own environment: put that on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def make_course_dir(course_dir, assignment):
    """Create an nbgrader course directory holding ``assignment``'s source and the course config.

    Returns an NbGraderAPI for it (the gradebook is SQLite, ``gradebook.db`` inside).
    """
    _tools_on_path()
    from nbgrader.apps import NbGraderAPI

    from .speedups import install

    install()
    from nbgrader.coursedir import CourseDirectory

    course_dir = Path(course_dir)
    source_dir = course_dir / "source" / assignment
    source_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source_notebook(assignment).parent, source_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(CONFIG_FILE, course_dir / "nbgrader_config.py")
    config = load_config(course_dir)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def generate_assignment(api, assignment):
    """Run nbgrader generate_assignment; returns the released notebook's path."""
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n"
                           f"{result.get('error', '')}\n{result.get('log', '')}")
    return Path(api.coursedir.root) / "release" / assignment / f"{assignment}.ipynb"
