"""``python -m autograder grade``: a folder of submissions to grades.csv, feedback and a summary.

Submissions are read, never written, and never through a link (:func:`open_submission`): each
notebook is parsed strictly (:func:`parse_notebook`) and written into a course directory of the
grader's own (``OUT/course``, an nbgrader course with a SQLite gradebook), and nbgrader
autogrades the copy. Grading one submission is one call, :func:`grade_submission`, which returns a
:class:`GradeResult`; :func:`grade` runs it over a whole folder and writes the outputs.
"""

import csv
import errno
import hashlib
import html
import json
import os
import random
import re
import shutil
import stat
import sys
import threading
import time
import unicodedata
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

    student: str  # the id: unique in the run, the same in every run (student_id, unique_ids)
    path: Path | None
    problem: str = ""  # why it cannot be graded ("" when it can)
    name: str = ""  # the name in the submissions folder the id was made from
    root: Path | None = None  # the submissions folder: no link below it is followed
    warning: str = ""  # why the id is not the name (a collision), for the instructor


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

MAX_SUBMISSION_BYTES = 20 * 2**20  # the released notebooks are ~50 KB; a 20 MB notebook is not an answer
MAX_CELLS = 1000  # the released notebooks have ~40 cells
_SAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


class NotASubmission(ValueError):
    """A submission that cannot be read: the message is the reason in grades.csv."""


def safe_name(name):
    """``name`` with accents dropped and characters other than letters, digits, ``_.@-`` made '_'."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _SAFE.sub("_", ascii_).strip("._-")


def _name_hash(name):
    text = unicodedata.normalize("NFC", name).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:8]


def student_id(name):
    """A student id nbgrader accepts in paths, the same for ``name`` in every run.

    A name that is already safe (letters, digits, ``_.@-``) is its own id. Any other name is
    made safe (accents dropped, other characters '_') and gets a suffix from a hash of the name
    (NFC-normalised, so the same name from a macOS and a Windows zip is one id): ``zoë`` and
    ``zoé`` become ``zoe-1a2b3c4d`` and ``zoe-5e6f7a8b``; ``ali ce`` does not become ``ali_ce``.
    """
    base = safe_name(name)
    if base == name:
        return name
    return f"{base or 'student'}-{_name_hash(name)}"


def open_submission(path, root=None, limit=MAX_SUBMISSION_BYTES):
    """The bytes of the submission at ``path``; NotASubmission(reason) when it is not a regular file.

    No symbolic link is followed: not the file itself, and, when ``root`` is given, no folder
    between ``root`` and the file (``root`` itself may be a link). Devices, fifos, sockets and
    folders are refused without being opened for reading (a fifo is opened non-blocking), a file
    with other hard links is refused, and at most ``limit`` bytes are read. This is the one place
    where the grader opens a submission (autograder.lms reuses it for extracted downloads).
    """
    path = Path(path)
    parts = path.relative_to(root).parts if root is not None else (path.name,)
    start = os.path.realpath(root) if root is not None else str(path.parent)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    dir_fd = os.open(start, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=dir_fd)
            except OSError as err:
                raise NotASubmission(_open_problem(part, err, folder=True)) from None
            os.close(dir_fd)
            dir_fd = fd
        try:
            fd = os.open(parts[-1], flags | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
        except OSError as err:
            raise NotASubmission(_open_problem(parts[-1], err)) from None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotASubmission(f"{parts[-1]} is {_kind(info.st_mode)}, not a notebook file")
        if info.st_nlink > 1:
            raise NotASubmission(f"{parts[-1]} has other hard links; hand in a plain copy of the notebook")
        if info.st_size > limit:
            raise NotASubmission(f"{parts[-1]} is {info.st_size / 2**20:.0f} MB; the grader reads "
                                 f"notebooks up to {limit / 2**20:.0f} MB")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise NotASubmission(f"{parts[-1]} grew past {limit / 2**20:.0f} MB while it was read")
    return data


def _open_problem(name, err, folder=False):
    if err.errno == errno.ELOOP:
        return f"{name} is a symbolic link; the grader does not follow links"
    if err.errno == errno.ENOTDIR and folder:
        return f"{name} is not a folder"
    return f"{name} cannot be opened ({os.strerror(err.errno)})"


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _visible(name):
    return not name.startswith(".") and name != "__pycache__"


def _entries(folder):
    """[(name, lstat result)] of the visible entries of ``folder``, sorted; links not followed."""
    with os.scandir(folder) as it:
        found = [(e.name, e.stat(follow_symlinks=False)) for e in it if _visible(e.name)]
    return sorted(found)


def find_submissions(assignment, submissions_dir):
    """The submissions in ``submissions_dir``, sorted by file name.

    Two layouts, mixed freely: nbgrader's ``<student>/<assignment>/<notebook>.ipynb`` and one
    notebook per student, ``<student>.ipynb`` (as an LMS exports them). Links are never followed:
    a link, device, fifo or folder where a notebook should be gets a row with a reason. Ids are
    unique: a second submission of the same id (``bob.ipynb`` and ``bob/``) gets a suffix, and
    each submission whose id needed one carries a ``warning``.
    """
    root = Path(submissions_dir)
    if not root.is_dir():
        raise SubmissionsError(f"submissions folder {root} does not exist (or is not a folder)")
    found = []
    for name, info in _entries(root):
        entry = root / name
        if name.endswith(".ipynb"):
            stem = name[: -len(".ipynb")]
            problem = "" if stat.S_ISREG(info.st_mode) else f"{name} is {_kind(info.st_mode)}, not a notebook file"
            found.append(Submission(student_id(stem), entry, problem, name=stem, root=root))
        elif stat.S_ISLNK(info.st_mode):
            found.append(Submission(student_id(name), None, f"{name} is a symbolic link; the grader "
                                                          f"does not follow links", name=name, root=root))
        elif stat.S_ISDIR(info.st_mode):
            found.append(_in_folder(root, name, assignment))
    if not found:
        raise SubmissionsError(f"no submissions in {root}: expected <student>.ipynb files or "
                               f"<student>/{assignment}/<notebook>.ipynb folders")
    return unique_ids(found)


def _in_folder(root, name, assignment):
    """The submission of nbgrader's layout ``root/name/assignment/*.ipynb``."""
    sid = student_id(name)
    folder = root / name / assignment
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return Submission(sid, None, f"no notebook in {name}/{assignment}/", name=name, root=root)
    if not stat.S_ISDIR(info.st_mode):
        return Submission(sid, None, f"{name}/{assignment} is {_kind(info.st_mode)}, not a folder",
                          name=name, root=root)
    notebooks = [n for n, _ in _entries(folder) if n.endswith(".ipynb")]
    if f"{assignment}.ipynb" in notebooks:
        return Submission(sid, folder / f"{assignment}.ipynb", name=name, root=root)
    if len(notebooks) == 1:
        return Submission(sid, folder / notebooks[0], name=name, root=root)
    if not notebooks:
        return Submission(sid, None, f"no notebook in {name}/{assignment}/", name=name, root=root)
    return Submission(sid, None, f"several notebooks in {name}/{assignment}/ and none named "
                                 f"{assignment}.ipynb", name=name, root=root)


def unique_ids(submissions):
    """Give every submission its own id: later ones of a repeated id get a suffix and a warning.

    The suffix is a hash of the file's path below the submissions folder, so it is the same in
    every run. Names whose safe forms coincide (``zoë``, ``zoé``) are named in a warning too.
    """
    taken, out = set(), []
    bases = {}
    for sub in submissions:
        bases.setdefault(safe_name(sub.name or sub.student), []).append(sub)
    for sub in submissions:
        if sub.student in taken:
            where = str(sub.path.relative_to(sub.root)) if sub.path is not None and sub.root else sub.name
            new = f"{sub.student}-{_name_hash(where or sub.student)}"
            sub.warning = (f"{where!r} would have had the id {sub.student!r} of another submission; "
                           f"its id is {new!r}")
            sub.student = new
        elif len(bases[safe_name(sub.name or sub.student)]) > 1 and sub.student != sub.name:
            others = [o.name for o in bases[safe_name(sub.name or sub.student)] if o is not sub]
            sub.warning = (f"the name {sub.name!r} looks like {', '.join(map(repr, others))} once made "
                           f"safe; its id is {sub.student!r}")
        taken.add(sub.student)
        out.append(sub)
    return out


def parse_notebook(data):
    """(notebook, "") for the bytes of a gradable notebook, else (None, why it is not one).

    Strict: UTF-8 JSON without lone surrogates, valid against the notebook schema after
    conversion to format 4, at most MAX_CELLS cells, and every cell's ``nbgrader`` metadata (if
    any) of the types nbgrader expects. Anything else is one student's problem, never the run's.
    """
    try:
        text = data.decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"not a readable notebook ({type(exc).__name__}: {_first_line(exc)})"
    try:
        problem = _shape_problem(raw)
        if problem:
            return None, f"not a readable notebook ({problem})"
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        problem = _nbgrader_problem(nb)
    except Exception as exc:  # noqa: BLE001 (nbformat raises many kinds; all mean "not gradable")
        return None, f"not a readable notebook ({type(exc).__name__}: {_first_line(exc)})"
    return (None, f"not a readable notebook ({problem})") if problem else (nb, "")


def _first_line(exc):
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _shape_problem(raw):
    """Why the parsed JSON cannot be a notebook before nbformat looks at it ("" if it may be)."""
    if not isinstance(raw, dict):
        return f"the file holds a JSON {type(raw).__name__}, not a notebook object"
    cells = raw.get("cells", raw.get("worksheets", []))
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        return f"{len(cells)} cells; the grader takes at most {MAX_CELLS}"
    stack = [(raw, 0)]
    while stack:  # no recursion: a hostile file may nest 100 000 levels
        value, depth = stack.pop()
        if depth > 64:
            return "JSON nested more than 64 levels deep"
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone surrogate, which is not valid Unicode"
        elif isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
            stack.extend((k, depth + 1) for k in value)
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return ""


_NBGRADER_TYPES = {"grade": bool, "solution": bool, "locked": bool, "task": bool,
                   "grade_id": str, "points": (int, float), "schema_version": int}


def _nbgrader_problem(nb):
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        if not isinstance(meta, dict):
            return f"cell {index + 1}: its nbgrader metadata is a {type(meta).__name__}, not an object"
        for key, kind in _NBGRADER_TYPES.items():
            if key in meta and (not isinstance(meta[key], kind) or (kind != bool and isinstance(meta[key], bool))):
                return f"cell {index + 1}: nbgrader metadata {key!r} has the wrong type"
    return ""


def read_problem(path):
    """Why the file at ``path`` is not a readable notebook, or "" when it is one.

    For the self-check (``python -m autograder check``) on the student's own machine; grading
    reads submissions through :func:`open_submission`.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    return parse_notebook(data)[1]


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

def load_submission(submission):
    """(bytes, notebook, problem) of a submission; problem "" when it can be graded."""
    if submission.problem:
        return b"", None, submission.problem
    try:
        data = open_submission(submission.path, submission.root)
    except NotASubmission as exc:
        return b"", None, str(exc)
    nb, problem = parse_notebook(data)
    return data, nb, problem


def _write_private(path, data):
    """Write ``data`` to ``path`` in the grader's own course directory (no link followed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def grade_submission(api, assignment, submission, tests, feedback_dir=None, notebook=None):
    """Autograde one submission in the course directory of ``api``; returns a GradeResult.

    The notebook (``notebook``, else read with :func:`load_submission`) is written to
    ``submitted/<student>/<assignment>/<assignment>.ipynb``; nbgrader restores the test cells
    from the source, runs the notebook and records each test's points. A submission that cannot
    be graded gets 0 on every test and a reason.
    """
    result = GradeResult(submission.student, str(submission.path or ""),
                         scores={gid: 0.0 for gid, _ in tests}, max_scores=dict(tests))
    if notebook is None:
        _, notebook, result.reason = load_submission(submission)
    if not result.reason:
        course = Path(api.coursedir.root)
        target = course / "submitted" / submission.student / assignment / f"{assignment}.ipynb"
        _write_private(target, nbformat.writes(notebook).encode("utf-8"))
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


MAX_FEEDBACK_BYTES = 8 * 2**20  # a page a browser opens; outputs are cut long before (outputcap)


def _feedback(api, assignment, result, feedback_dir, write_page=True):
    """Write ``feedback_dir/<student>.html``: nbgrader's feedback, or the reason for a 0.

    nbgrader's page is copied only if it is at most MAX_FEEDBACK_BYTES; a larger one is
    replaced by the scores of each test. write_page=False writes the short page directly.
    """
    feedback_dir.mkdir(parents=True, exist_ok=True)
    target = feedback_dir / f"{result.student}.html"
    if not result.reason and write_page:
        from .feedback import generate

        outcome = generate(api, assignment, result.student)  # nbgrader's generate_feedback, exporter kept
        made = (Path(api.coursedir.root) / "feedback" / result.student / assignment
                / f"{assignment}.html")
        if outcome["success"] and made.is_file() and made.stat().st_size <= MAX_FEEDBACK_BYTES:
            _write_private(target, made.read_bytes())
            return target
        if outcome["success"] and made.is_file():
            return _short_page(target, assignment, result, "Your feedback page was too large to "
                               "show (the notebook printed or held too much); the points of each test:")
        result.reason = "graded, but nbgrader could not write the feedback"
    if not result.reason:
        return _short_page(target, assignment, result, "The points of each test:")
    return _short_page(target, assignment, result, f"Your submission could not be graded: "
                       f"{one_line(result.reason)}.")


def one_line(text, limit=2000):
    """``text`` as one line of valid UTF-8 (a reason goes into a CSV cell and an HTML page)."""
    text = " ".join(str(text).split())
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]


def _short_page(target, assignment, result, message):
    rows = "".join(f"<tr><td>{html.escape(gid)}</td><td>{result.scores[gid]:g} / {result.max_scores[gid]:g}"
                   f"</td></tr>\n" for gid in result.scores)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{assignment}: "
            f"{html.escape(result.student)}</title></head><body>\n<h1>{assignment}: {result.total:g} / "
            f"{result.max_total:g}</h1>\n<p>{html.escape(message)}</p>\n"
            + (f"<table>\n{rows}</table>\n" if not result.reason else "") + "</body></html>\n")
    _write_private(target, page.encode("utf-8", "replace"))
    return target


# --- grading a folder ----------------------------------------------------------------------------

class Graded(list):
    """The GradeResults of a run, in order; ``finished``: what was written after grading
    (autograder.outputs.Finished), or None."""

    finished = None


def grade(assignment, submissions_dir, out_dir, seed=None, progress=True, jobs=1, db=None,
          shard=None, sandbox="auto", timeout=600, cell_timeout=None, limits=None, options=None):
    """Grade every submission of ``assignment`` in ``submissions_dir``; write the outputs to out_dir.

    Writes out_dir/grades.csv, out_dir/feedback/<student>.html and keeps nbgrader's course
    directory in out_dir/course. ``seed`` fixes the random inputs of the tests (default: drawn
    once for the run, the same for every student). ``jobs`` worker processes; ``db`` the gradebook
    URL (default SQLite in the course directory); ``shard`` (K, M): only the students of share K
    of M; ``sandbox`` "auto", "on" or "off" (autograder.containment); ``timeout`` seconds per
    submission, everything done for it included; ``cell_timeout`` seconds per cell (default: the
    course config's); ``limits`` the kernels' autograder.containment.Limits (default Limits()). A
    run interrupted halfway resumes from out_dir/journal.

    ``submissions_dir`` may also be a Canvas or Moodle download, zip or folder (autograder.lms).
    After grading, autograder.outputs writes the report, similarity report and LMS exports;
    ``options`` (autograder.outputs.Options) holds the instructor's files for them. Returns the
    GradeResults (a :class:`Graded` list).
    """
    from . import runner
    from .containment import Limits, grading_kernel
    from .database import exclusive, gradebook_url, in_shard
    from .execution import trusted_modules
    from .kernel import TRUSTED_VARIABLE

    from . import mathjax, outputs

    source_notebook(assignment)  # UnknownAssignment before any work
    outputs.check_options(options, assignment)  # the instructor's files, before any work
    _quiet_gradebook_warnings()
    out_dir = Path(out_dir)
    download = _lms_download(assignment, submissions_dir, out_dir)
    found = download.submissions if download else find_submissions(assignment, submissions_dir)
    submissions = [s for s in found if in_shard(s.student, shard)]
    for sub in submissions:
        if sub.warning:
            print(f"warning: {sub.warning}", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    mathjax.install(out_dir / "feedback")  # the pages' MathJax, next to them (no network)
    seed = runner.run_seed(out_dir / "journal", seed)
    url = gradebook_url(db, out_dir / "course")
    previous = {name: os.environ.get(name) for name in (SEED_VARIABLE, TRUSTED_VARIABLE)}
    warm = None
    os.environ[SEED_VARIABLE] = str(seed)  # inherited by every kernel nbgrader starts
    os.environ[TRUSTED_VARIABLE] = ",".join(
        trusted_modules(nbformat.read(str(source_notebook(assignment)), as_version=4)))
    try:
        with grading_kernel(limits or Limits(), sandbox=sandbox, cell_timeout=cell_timeout) as (kernel_config, message):
            print(f"{assignment}: {message}", file=sys.stderr)
            run = runner.Run(str(out_dir / "course"), assignment, url, kernel_config,
                             tuple(grade_cells(source_notebook(assignment))), str(out_dir / "feedback"), timeout)
            # the worker processes start (imports, kernel zygotes) while the course is set up
            with runner.Workers(run, jobs if len(submissions) > 1 else 1) as workers:
                if workers.pool is not None:  # forked: this process is idle while they grade
                    warm = threading.Thread(target=_prewarm_outputs, daemon=True)
                    warm.start()
                with exclusive(url):  # other graders of a shared gradebook wait here
                    api, tests = prepare_course(out_dir / "course", assignment, url, kernel_config)
                results = runner.grade_all(api, run, submissions, seed, out_dir / "journal", jobs, progress,
                                           workers=workers)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    write_csv(results, tests, out_dir / "grades.csv")
    if warm is not None:
        warm.join()
    results = Graded(results)
    # hook: the post-grading step (report, similarity, written answers, late policy, exports)
    results.finished = outputs.finish(assignment, results, tests, out_dir, options, download,
                                      submissions, url, api.coursedir.course_id)
    return results


def _prewarm_outputs():
    """Import and warm up what the outputs after grading need (matplotlib draws the report's
    figures: most of a second in a fresh process), while the workers grade. The report is drawn
    only after this ends (``grade`` joins it): matplotlib is never used from two threads."""
    import io

    from . import outputs  # noqa: F401 (the report, similarity and exports modules)

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
        from matplotlib.figure import Figure

        figure = Figure(figsize=(1, 1), dpi=20)
        figure.subplots().bar([0, 1], [1, 2])
        figure.savefig(io.BytesIO(), format="png")
    except Exception:  # noqa: BLE001 (the report then draws its figures the slow way, or says why)
        pass


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
                             f"{r.total:g}", f"{r.max_total:g}", one_line(r.reason or r.note)])


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
