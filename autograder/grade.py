"""``python -m autograder grade``: a folder of submissions to grades.csv, feedback and a summary.

Submissions are read, never written: each notebook is copied into a course directory of the
grader's own (``OUT/course``, an nbgrader course with a SQLite gradebook) and nbgrader autogrades
the copy. Grading one submission is one call, :func:`grade_submission`, which returns a
:class:`GradeResult`; :func:`grade` runs it over a whole folder and writes the outputs.
"""

import csv
import html
import os
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .checks.common import SEED_VARIABLE
from .course import generate_assignment, make_course_dir, source_notebook


class SubmissionsError(ValueError):
    """The submissions folder is missing or holds nothing to grade."""


@dataclass
class Submission:
    """One student's notebook, as found in the submissions folder (``path`` is never written)."""

    student: str
    path: Path | None
    problem: str = ""  # why it cannot be graded ("" when it can)


@dataclass
class GradeResult:
    """The grade of one submission: points per test (grade cell id), and why 0 when it failed."""

    student: str
    source: str
    scores: dict = field(default_factory=dict)  # grade id -> points
    max_scores: dict = field(default_factory=dict)  # grade id -> maximum points
    reason: str = ""  # "" when nbgrader graded the notebook; else why it scored 0
    note: str = ""  # what went wrong in a notebook that was graded (autograder.runner.notes)
    feedback: Path | None = None
    seconds: float = 0.0  # wall-clock time to grade it (autograder.runner.grade_one)

    @property
    def total(self):
        return round(sum(self.scores.values()), 6)

    @property
    def max_total(self):
        return round(sum(self.max_scores.values()), 6)


# --- finding submissions -------------------------------------------------------------------------

_SAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


def student_id(name):
    """A student id nbgrader accepts in paths: unsafe characters become '_'."""
    return _SAFE.sub("_", name).strip("._") or "student"


def _visible(path):
    return not path.name.startswith(".") and path.name != "__pycache__"


def find_submissions(assignment, submissions_dir):
    """The submissions in ``submissions_dir``, sorted by student.

    Two layouts, mixed freely: nbgrader's ``<student>/<assignment>/<notebook>.ipynb`` and one
    notebook per student, ``<student>.ipynb`` (as an LMS exports them).
    """
    root = Path(submissions_dir)
    if not root.is_dir():
        raise SubmissionsError(f"submissions folder {root} does not exist (or is not a folder)")
    found = []
    for entry in sorted(filter(_visible, root.iterdir())):
        if entry.is_file() and entry.suffix == ".ipynb":
            found.append(Submission(student_id(entry.stem), entry))
        elif entry.is_dir():
            folder = entry / assignment
            notebooks = sorted(filter(_visible, folder.glob("*.ipynb"))) if folder.is_dir() else []
            named = folder / f"{assignment}.ipynb"
            if named in notebooks:
                found.append(Submission(student_id(entry.name), named))
            elif len(notebooks) == 1:
                found.append(Submission(student_id(entry.name), notebooks[0]))
            elif not notebooks:
                found.append(Submission(student_id(entry.name), None,
                                        f"no notebook in {entry.name}/{assignment}/"))
            else:
                found.append(Submission(student_id(entry.name), None,
                                        f"several notebooks in {entry.name}/{assignment}/ and "
                                        f"none named {assignment}.ipynb"))
    if not found:
        raise SubmissionsError(f"no submissions in {root}: expected <student>.ipynb files or "
                               f"<student>/{assignment}/<notebook>.ipynb folders")
    return found


def read_problem(path):
    """Why the file at ``path`` is not a readable notebook, or "" when it is one."""
    try:
        nbformat.read(str(path), as_version=4)
    except Exception as exc:  # JSON errors, missing keys, unknown nbformat: all mean "not gradable"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"not a readable notebook ({type(exc).__name__}: {first})"
    return ""


# --- the course directory and its tests ----------------------------------------------------------

def grade_cells(notebook_path):
    """[(grade id, points)] of the autograded test cells, in notebook order."""
    nb = nbformat.read(str(notebook_path), as_version=4)
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            cells.append((meta["grade_id"], float(meta["points"])))
    return cells


def prepare_course(course_dir, assignment, db_url=None, kernel_config=None):
    """Create the grader's course directory and register the assignment in its gradebook.

    db_url: the gradebook (default SQLite in the course directory); kernel_config: nbgrader
    config of the contained kernel (autograder.containment). Returns (api, tests): an
    NbGraderAPI and [(grade id, points)].

    A shared gradebook (PostgreSQL) is registered once, by the first grader: nbgrader's
    generate_assignment re-creates the assignment's cells in the gradebook, which would pull
    them from under the submissions another grader is writing. Later graders build their own
    release/ copy against a private SQLite gradebook instead. Call it under
    ``database.exclusive(db_url)``.
    """
    from .database import gradebook_url, is_shared
    from .runner import configure

    api = make_course_dir(course_dir, assignment)
    if db_url is not None:
        configure(api, db_url, kernel_config or {})
    if db_url is not None and is_shared(db_url) and _registered(api, assignment):
        configure(api, gradebook_url(None, course_dir), kernel_config or {})
        generate_assignment(api, assignment)
        configure(api, db_url, kernel_config or {})
    else:
        generate_assignment(api, assignment)
    return api, grade_cells(source_notebook(assignment))


def _registered(api, assignment):
    """Whether the gradebook of ``api`` already holds ``assignment`` with its notebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        try:
            return bool(gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


# --- grading one submission ----------------------------------------------------------------------

def grade_submission(api, assignment, submission, tests, feedback_dir=None):
    """Autograde one submission in the course directory of ``api``; returns a GradeResult.

    The notebook is copied to ``submitted/<student>/<assignment>/<assignment>.ipynb``; nbgrader
    restores the test cells from the source, runs the notebook and records each test's points.
    A submission that cannot be graded gets 0 on every test and a reason.
    """
    result = GradeResult(submission.student, str(submission.path or ""),
                         scores={gid: 0.0 for gid, _ in tests}, max_scores=dict(tests))
    result.reason = submission.problem or read_problem(submission.path)
    if not result.reason:
        course = Path(api.coursedir.root)
        target = course / "submitted" / submission.student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(submission.path, target)
        outcome = _autograde(api, assignment, submission.student)
        if outcome["success"]:
            scores = _scores(api, assignment, submission.student)
            result.scores.update({gid: scores.get(gid, 0.0) for gid in result.scores})
        else:
            text = outcome.get("error") or outcome.get("log") or ""
            lines = [ln for ln in text.splitlines() if ln.strip()]
            result.reason = "nbgrader could not grade it: " + (lines[-1] if lines else "unknown error")
            if any(w in (outcome.get("error") or "") + (outcome.get("log") or "")
                   for w in ("DeadKernelError", "Kernel died")):
                result.reason = ("the kernel died while the notebook ran (os._exit, a killed "
                                 "process or a resource limit), so no test could be graded")
    if feedback_dir is not None:
        result.feedback = _feedback(api, assignment, result, Path(feedback_dir))
    return result


# Errors a shared gradebook raises when graders write at once, each safe to retry (nbgrader
# rolled the transaction back and autograde(force=True) starts over): PostgreSQL aborts one of
# two deadlocked transactions (two graders adding submissions); SQLite refuses a writer while
# another holds the file.
TRANSIENT_DATABASE_ERRORS = ("DeadlockDetected", "SerializationFailure", "database is locked")


def _autograde(api, assignment, student, attempts=4):
    """nbgrader's autograde of one student, retried after a transient gradebook error."""
    for attempt in range(attempts):
        outcome = api.autograde(assignment, student, force=True, create=True)
        text = (outcome.get("error") or "") + (outcome.get("log") or "")
        if outcome["success"] or not any(e in text for e in TRANSIENT_DATABASE_ERRORS):
            return outcome
        time.sleep(random.uniform(0.2, 1.0) * (attempt + 1))
    return outcome


def _scores(api, assignment, student):
    from nbgrader.api import Gradebook

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        notebook = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: float(g.score or 0.0) for g in notebook.grades}


def _feedback(api, assignment, result, feedback_dir):
    """Write ``feedback_dir/<student>.html``: nbgrader's feedback, or the reason for a 0."""
    feedback_dir.mkdir(parents=True, exist_ok=True)
    target = feedback_dir / f"{result.student}.html"
    if not result.reason:
        outcome = api.generate_feedback(assignment, result.student, force=True)
        made = (Path(api.coursedir.root) / "feedback" / result.student / assignment
                / f"{assignment}.html")
        if outcome["success"] and made.is_file():
            shutil.copyfile(made, target)
            return target
        result.reason = "graded, but nbgrader could not write the feedback"
    target.write_text(
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{assignment}: "
        f"{html.escape(result.student)}</title></head><body>\n<h1>{assignment}: 0 / "
        f"{result.max_total:g}</h1>\n<p>Your submission could not be graded: "
        f"{html.escape(result.reason)}.</p>\n</body></html>\n", encoding="utf-8")
    return target


# --- grading a folder ----------------------------------------------------------------------------

class Graded(list):
    """The GradeResults of a run, in order; ``finished``: what was written after grading
    (autograder.outputs.Finished), or None."""

    finished = None


def grade(assignment, submissions_dir, out_dir, seed=None, progress=True, jobs=1, db=None,
          shard=None, sandbox="auto", timeout=600, cell_timeout=None, options=None):
    """Grade every submission of ``assignment`` in ``submissions_dir``; write the outputs to out_dir.

    Writes out_dir/grades.csv, out_dir/feedback/<student>.html and keeps nbgrader's course
    directory in out_dir/course. ``seed`` fixes the random inputs of the tests (default: drawn
    once for the run, the same for every student). ``jobs`` worker processes; ``db`` the gradebook
    URL (default SQLite in the course directory); ``shard`` (K, M): only the students of share K
    of M; ``sandbox`` "auto", "on" or "off" (autograder.containment); ``timeout`` seconds per
    submission; ``cell_timeout`` seconds per cell (default: the course config's). A run interrupted halfway resumes from out_dir/journal.

    ``submissions_dir`` may also be a Canvas or Moodle download, zip or folder (autograder.lms).
    After grading, autograder.outputs writes the report, similarity report and LMS exports;
    ``options`` (autograder.outputs.Options) holds the instructor's files for them. Returns the
    GradeResults (a :class:`Graded` list).
    """
    from . import runner
    from .containment import grading_kernel
    from .database import exclusive, gradebook_url, in_shard

    from . import outputs

    source_notebook(assignment)  # UnknownAssignment before any work
    outputs.check_options(options, assignment)  # the instructor's files, before any work
    _quiet_gradebook_warnings()
    out_dir = Path(out_dir)
    download = _lms_download(assignment, submissions_dir, out_dir)
    found = download.submissions if download else find_submissions(assignment, submissions_dir)
    submissions = [s for s in found if in_shard(s.student, shard)]
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = runner.run_seed(out_dir / "journal", seed)
    url = gradebook_url(db, out_dir / "course")
    previous = os.environ.get(SEED_VARIABLE)
    os.environ[SEED_VARIABLE] = str(seed)  # inherited by every kernel nbgrader starts
    try:
        with grading_kernel(sandbox=sandbox, cell_timeout=cell_timeout) as (kernel_config, message):
            print(f"{assignment}: {message}", file=sys.stderr)
            with exclusive(url):  # other graders of a shared gradebook wait here
                api, tests = prepare_course(out_dir / "course", assignment, url, kernel_config)
            run = runner.Run(str(out_dir / "course"), assignment, url, kernel_config, tuple(tests),
                             str(out_dir / "feedback"), timeout)
            results = runner.grade_all(api, run, submissions, seed, out_dir / "journal", jobs, progress)
    finally:
        if previous is None:
            os.environ.pop(SEED_VARIABLE, None)
        else:
            os.environ[SEED_VARIABLE] = previous
    write_csv(results, tests, out_dir / "grades.csv")
    results = Graded(results)
    # hook: the post-grading step (report, similarity, written answers, late policy, exports)
    results.finished = outputs.finish(assignment, results, tests, out_dir, options, download,
                                      submissions, url, api.coursedir.course_id)
    return results


def _lms_download(assignment, source, out_dir):
    """Hook: a Canvas or Moodle download (zip or folder) read by autograder.lms, else None.

    A zip is unpacked into ``out_dir/lms/`` (the grader's copy, replaced on every run).
    """
    from . import lms

    if not lms.is_download(source):
        return None
    unpack = Path(out_dir) / "lms"
    if Path(source).resolve().is_relative_to(unpack.resolve()):
        raise SubmissionsError(f"{source} is inside {unpack}, which the grader replaces: "
                               f"give the download from the LMS, or another --out")
    if unpack.exists():
        shutil.rmtree(unpack)
    return lms.read_download(assignment, source, unpack)


def _quiet_gradebook_warnings():
    """nbgrader 0.9 on SQLAlchemy 2 warns on every new submission (autoflush before add); harmless."""
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", message=".*not in session.*", category=SAWarning)


def write_csv(results, tests, path):
    """grades.csv: one row per student: each test's points, total, max, and the reason for a 0."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *[gid for gid, _ in tests], "total", "max", "reason"])
        for r in results:
            writer.writerow([r.student, *[f"{r.scores[gid]:g}" for gid, _ in tests],
                             f"{r.total:g}", f"{r.max_total:g}", r.reason or r.note])


def summary(results, bins=10, width=40):
    """A text summary: counts, mean and median, and a histogram of the scores in percent."""
    if not results:
        return "no submissions"
    maximum = results[0].max_total or 1.0
    percents = sorted(100.0 * r.total / maximum for r in results)
    n = len(percents)
    median = (percents[(n - 1) // 2] + percents[n // 2]) / 2
    failed = [r for r in results if r.reason]
    lines = [f"{n} submissions, maximum {maximum:g} points: mean {sum(percents) / n:.1f}%, "
             f"median {median:.1f}%" + (f"; {len(failed)} could not be graded (see the reason "
                                        f"column of grades.csv)" if failed else "")]
    counts = [0] * bins
    for p in percents:
        counts[min(int(p * bins / 100), bins - 1)] += 1
    scale = max(counts)
    for k, count in enumerate(counts):
        low, high = 100 * k // bins, 100 * (k + 1) // bins
        bar = "#" * (round(width * count / scale) if count else 0)
        lines.append(f"{low:3d}-{high:<3d}% | {bar} {count if count else ''}".rstrip())
    return "\n".join(lines)
