"""Grading many submissions: worker processes, a time limit per submission, a journal for resuming.

:func:`grade_all` runs :func:`autograder.grade.grade_submission` over the submissions, in this
process (``jobs=1``) or in ``jobs`` worker processes, each with its own nbgrader API on the same
course directory and gradebook. Every result is written to ``OUT/journal/<student>.json`` as soon
as it is known. A later run skips a submission whose journal entry has the same fingerprint (the
submission's bytes, the assignment source and the seed): an interrupted run resumes with the
ungraded submissions, and grading the same folder twice changes nothing.
"""

import contextlib
import hashlib
import json
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from traitlets.config import Config

from . import grade as grading
from . import tamper
from .containment import for_this_process
from .course import _tools_on_path, load_config, source_notebook
from .versions import version_note
from .outputcap import TRUNCATED
from .speedups import install


@dataclass(frozen=True)
class Run:
    """What every worker needs to grade one submission of the run."""

    course_dir: str
    assignment: str
    db_url: str
    kernel_config: dict
    tests: tuple  # ((grade id, points), ...)
    feedback_dir: str
    timeout: float  # wall-clock seconds for one submission, kernel start to feedback


def configure(api, db_url, kernel_config):
    """Point an NbGraderAPI at the run's gradebook and contained kernel."""
    api.coursedir.db_url = db_url
    api.update_config(Config(kernel_config))
    return api


def open_course(run):
    """An NbGraderAPI on the run's existing course directory (a worker's own)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _tools_on_path()
    install()
    config = load_config(run.course_dir)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    return configure(api, run.db_url, run.kernel_config)


def run_seed(journal_dir, seed):
    """The seed of the tests' random inputs: ``seed``, else the one of the interrupted run, else new."""
    path = Path(journal_dir) / "seed"
    if seed is None:
        seed = int(path.read_text()) if path.is_file() else int.from_bytes(os.urandom(4), "little")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(int(seed)))
    return int(seed)


def fingerprint(submission, assignment, seed):
    """Changes when the submission, the assignment's source or the seed changes."""
    digest = hashlib.sha256(f"{assignment}\0{seed}\0{submission.problem}\0".encode())
    if not submission.problem:
        try:
            digest.update(grading.open_submission(submission.path, submission.root))
        except grading.NotASubmission as exc:
            digest.update(str(exc).encode("utf-8", "replace"))
    digest.update(Path(source_notebook(assignment)).read_bytes())
    return digest.hexdigest()


def _journal_path(journal_dir, student):
    return Path(journal_dir) / f"{student}.json"


def load_result(journal_dir, student, print_):
    """The journalled GradeResult of ``student`` if its fingerprint is ``print_``, else None."""
    path = _journal_path(journal_dir, student)
    try:
        entry = json.loads(path.read_text())
        result = grading.GradeResult(**entry["result"])
    except (OSError, ValueError, TypeError, KeyError):  # none, half-written, or an older format
        return None
    if entry.get("fingerprint") != print_ or not (result.feedback and Path(result.feedback).is_file()):
        return None
    result.feedback = Path(result.feedback)
    return result


def save_result(journal_dir, result, print_):
    """Write the journal entry atomically: a run killed mid-write leaves the old entry or none."""
    path = _journal_path(journal_dir, result.student)
    entry = {"fingerprint": print_, "result": {**asdict(result), "feedback": str(result.feedback or "")}}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry, indent=1))
    os.replace(tmp, path)


KERNEL_MARKS = ("autograder.containment", "ipykernel")


def _kill_kernels():
    """Kill the kernels this process started (and their sandboxes): the notebook stops at once."""
    import psutil

    from . import zygote

    zygote.kill_kernels()
    for child in psutil.Process().children(recursive=True):
        try:
            if any(mark in " ".join(child.cmdline()) for mark in KERNEL_MARKS):
                child.kill()
        except psutil.Error:
            pass


class _Deadline:
    """Kill the kernels if the block has not ended within ``seconds``; ``fired`` says whether it did."""

    def __init__(self, seconds):
        self.fired = False
        self._timer = threading.Timer(max(seconds, 0.001), self._fire)

    def _fire(self):
        self.fired = True
        _kill_kernels()

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()


class Overtime(BaseException):
    """The wall-clock limit of a submission ran out while the grader itself was working on it."""


class _Bell:
    rang = False


@contextlib.contextmanager
def _alarm(seconds):
    """Raise Overtime in this (main) thread after ``seconds``; a no-op in other threads.

    Yields an object whose ``rang`` says whether the time ran out: nbgrader's API catches every
    exception of its apps (``except:``), Overtime included, and returns a failure instead.
    """
    bell = _Bell()
    if threading.current_thread() is not threading.main_thread():
        yield bell
        return

    def ring(*_):
        bell.rang = True
        raise Overtime()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield bell
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _zero(run, submission, reason):
    return grading.GradeResult(submission.student, str(submission.path or ""),
                               scores={gid: 0.0 for gid, _ in run.tests}, max_scores=dict(run.tests),
                               reason=reason)


def grade_one(api, run, submission):
    """Grade one submission: read, tamper scan, nbgrader, notes and feedback, all within ``run.timeout``.

    Every step is guarded: whatever goes wrong with this submission becomes its reason, and the
    run goes on with the next one.
    """
    start = time.monotonic()
    try:
        result = _grade_one(api, run, submission, start)
    except (Exception, Overtime) as exc:  # noqa: BLE001 (one student's problem, never the run's)
        if isinstance(exc, Overtime):
            reason = f"stopped after {run.timeout:g} s: the notebook took too long to grade"
        else:
            reason = f"the grader could not process it ({type(exc).__name__}: {grading._first_line(exc)})"
        result = _zero(run, submission, reason)
        result.feedback = grading._feedback(api, run.assignment, result, Path(run.feedback_dir))
    result.seconds = round(time.monotonic() - start, 3)
    return result


def _grade_one(api, run, submission, start):
    left = lambda: run.timeout - (time.monotonic() - start)  # noqa: E731
    data, nb, problem = grading.load_submission(submission)
    if problem:
        result = _zero(run, submission, problem)
    else:
        tampering = tamper.scan(tamper.student_cells(nb, _read(source_notebook(run.assignment))))
        if tampering:
            result = _zero(run, submission, f"not graded: the answers change the grader's own code "
                                            f"({tampering[0]}); an instructor can review it")
        else:
            with _Deadline(left()) as deadline, _alarm(left() + 5):
                result = grading.grade_submission(api, run.assignment, submission, list(run.tests),
                                                  notebook=nb)
            if deadline.fired:
                result.scores = {gid: 0.0 for gid in result.scores}
                result.reason = f"stopped after {run.timeout:g} s: the notebook took too long to grade"
            elif not result.reason:
                result.note = notes(run, submission, nb, data)
    reason = result.reason
    try:
        with _alarm(left()) as bell:
            result.feedback = grading._feedback(api, run.assignment, result, Path(run.feedback_dir))
            if bell.rang:  # inside nbgrader, which turned the Overtime into "could not write"
                raise Overtime()
            if result.note:
                _add_note(result.feedback, result.note)
    except Overtime:
        result.reason = reason
        result.note = "; ".join(filter(None, [result.note, f"the feedback page was not written within "
                                              f"the {run.timeout:g} s limit"]))
        result.feedback = grading._feedback(api, run.assignment, result, Path(run.feedback_dir),
                                            write_page=False)
    return result


def _read(path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


ERROR_WORDS = {
    "KeyboardInterrupt": "was stopped at the time limit of one cell",
    "CellTimeoutError": "was stopped at the time limit of one cell",
    "MemoryError": "asked for more memory than the grader allows (MemoryError)",
    "SystemExit": "called sys.exit()",
}


def notes(run, submission, submitted, data):
    """One line on what went wrong in a graded notebook ("" when nothing did).

    Deleted test cells (they score 0), deleted answer cells, metadata that nbgrader needs and
    that was removed, answer cells that stopped with an error, output cut by the grader.
    """
    source = _read(source_notebook(run.assignment))
    found = [_gid(c) for c in submitted.cells]
    said = []
    version = json.loads(data).get("nbformat")
    if version != 4:
        said.append(f"notebook format {version} was converted to 4")
    kernel = submitted.metadata.get("kernelspec", {}).get("name")
    if kernel not in (None, source.metadata.get("kernelspec", {}).get("name")):
        said.append(f"the notebook asked for the kernel {kernel!r}; it ran on the course's Python kernel")
    if not any(c.metadata.get("nbgrader") for c in submitted.cells):
        said.append("the cells' nbgrader metadata was removed, so no test could be found: "
                    "paste your answers into a fresh copy of the notebook")
    else:
        missing_tests = [gid for gid in _ids(source, "grade") if gid not in found]
        missing_answers = [gid for gid in _ids(source, "solution") if gid not in found]
        if missing_tests:
            said.append(f"test cells deleted (0 points): {', '.join(missing_tests)}")
        if missing_answers:
            said.append(f"answer cells deleted: {', '.join(missing_answers)}")
        release = _read(Path(run.course_dir) / "release" / run.assignment / f"{run.assignment}.ipynb")
        released = {_gid(c): c.source for c in release.cells if _gid(c) in _ids(release, "grade")}
        edited = [_gid(c) for c in submitted.cells if _gid(c) in released and c.source != released[_gid(c)]]
        if edited:
            said.append(f"test cells edited; the original tests were run: {', '.join(edited)}")
        position = {_gid(c): i for i, c in enumerate(source.cells) if _gid(c)}
        order = [position[gid] for gid in found if gid in position]
        if order != sorted(order):
            said.append("cells were moved out of the notebook's order; they ran in the order handed in")
    said += [n for n in [version_note(submitted)] if n]
    autograded = (Path(run.course_dir) / "autograded" / submission.student / run.assignment
                  / f"{run.assignment}.ipynb")
    if autograded.is_file() and not autograded.is_symlink():
        for index, cell in enumerate(_read(autograded).cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or meta.get("grade"):
                continue
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    what = ERROR_WORDS.get(out.ename, f"raised {out.ename}")
                    said.append(f"{meta.get('grade_id') or f'cell {index + 1}'} {what}")
                    break
            if any(TRUNCATED in str(out) for out in cell.get("outputs", [])):
                said.append(f"{meta.get('grade_id') or f'cell {index + 1}'} printed too much (cut)")
    return "; ".join(said)


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _ids(nb, kind):
    """Grade ids of the cells of ``kind`` ("grade": tests, "solution": answers), in order.

    A written answer (graded by hand) is grade and solution: it counts as an answer, not a test.
    """
    meta = [(_gid(c), c.metadata.get("nbgrader", {})) for c in nb.cells]
    if kind == "grade":
        return [gid for gid, m in meta if m.get("grade") and not m.get("solution")]
    return [gid for gid, m in meta if m.get(kind)]


def _add_note(feedback, note):
    """Put the note at the top of nbgrader's feedback page."""
    import html

    page = Path(feedback).read_text(encoding="utf-8", errors="replace")
    at = page.find(">", page.find("<body")) + 1
    box = (f'\n<div class="grader-note" style="border:2px solid #c60;padding:0.5em 1em;margin:1em">'
           f"<strong>Note from the grader:</strong> {html.escape(note)}</div>\n")
    grading._write_private(Path(feedback), (page[:at] + box + page[at:] if at > 0 else box + page).encode("utf-8"))


_worker = {}


def _die_with_parent():
    """Ask Linux to SIGKILL this worker when the grader's main process ends, however it ends."""
    import ctypes

    from .containment import PR_SET_PDEATHSIG

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent was gone before the call
        os._exit(1)


def _start_worker(run):
    """A worker's set-up: its kernel zygote is started now; the course is opened on first use
    (workers may start while the course directory is still being made, see :class:`Workers`)."""
    from . import zygote

    _die_with_parent()
    grading._quiet_gradebook_warnings()
    run = replace(run, kernel_config=for_this_process(run.kernel_config))
    _worker["run"], _worker["api"] = run, None
    zygote.prestart()


def _ready():
    return os.getpid()


def _grade_in_worker(submission):
    if _worker["api"] is None:
        _worker["api"] = open_course(_worker["run"])
    return grade_one(_worker["api"], _worker["run"], submission)


class Workers:
    """The run's pool of ``jobs`` worker processes, started ahead (``jobs`` <= 1: none).

    Starting a worker (a fresh Python importing nbgrader, then its kernel zygote) takes seconds;
    made before the course directory, the workers start while it is set up. :func:`grade_all`
    takes the pool over; whatever is left is shut down when the block ends.
    """

    def __init__(self, run, jobs):
        self.pool = None
        if jobs > 1:
            self.pool = ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker, initargs=(run,),
                                            mp_context=_fork_before_any_socket())
            for _ in range(jobs):
                self.pool.submit(_ready)  # a pool starts its processes when work arrives

    def take(self):
        pool, self.pool = self.pool, None
        return pool

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def grade_all(api, run, submissions, seed, journal_dir, jobs=1, progress=True, workers=None):
    """Grade ``submissions`` (resuming from ``journal_dir``); returns their GradeResults in order.

    workers: a :class:`Workers` started ahead for this run (else a pool is made here).
    """
    journal_dir = Path(journal_dir)
    journal_dir.mkdir(parents=True, exist_ok=True)
    prints = {s.student: fingerprint(s, run.assignment, seed) for s in submissions}
    results = {s.student: load_result(journal_dir, s.student, prints[s.student]) for s in submissions}
    todo = [s for s in submissions if results[s.student] is None]
    bar = _bar(len(submissions), len(submissions) - len(todo), progress, run.assignment)

    def record(result):
        save_result(journal_dir, result, prints[result.student])
        results[result.student] = result
        bar.update(1)

    if jobs <= 1 or len(todo) <= 1:
        for submission in todo:
            record(grade_one(api, run, submission))
    else:
        _in_pool(run, todo, jobs, record, first=workers.take() if workers else None)
    bar.close()
    return [results[s.student] for s in submissions]


def _in_pool(run, todo, jobs, record, attempts=3, first=None):
    """Grade ``todo`` in ``jobs`` worker processes; a worker that dies costs only its own submissions.

    When a worker dies (killed from outside, out of memory), the pool breaks: the submissions not
    yet graded go to a new pool; one that was unfinished in ``attempts`` broken pools gets a row
    with a reason instead.
    """
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    broken = {s.student: 0 for s in todo}
    while todo:
        left = []
        pool, first = first or ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker,
                                                   initargs=(run,), mp_context=_spawn()), None
        with pool:
            futures = {pool.submit(_grade_in_worker, s): s for s in todo}
            for future in as_completed(futures):
                try:
                    record(future.result())
                except BrokenProcessPool:
                    left.append(futures[future])
                except Exception as exc:  # noqa: BLE001 (grade_one guards itself; this is the pool's)
                    result = _zero(run, futures[future], f"the grader could not process it "
                                   f"({type(exc).__name__}: {grading._first_line(exc)})")
                    result.feedback = grading._feedback(None, run.assignment, result, Path(run.feedback_dir))
                    record(result)
        for submission in left:
            broken[submission.student] += 1
        todo = [s for s in left if broken[s.student] < attempts]
        for submission in left:
            if broken[submission.student] >= attempts:
                result = _zero(run, submission, "the grader's worker process died while grading it")
                result.feedback = grading._feedback(None, run.assignment, result, Path(run.feedback_dir))
                record(result)


def _spawn():
    import multiprocessing

    return multiprocessing.get_context("spawn")  # never fork a process that holds zmq sockets


WORKER_MODULES = ("nbgrader.apps", "nbgrader.converters", "nbgrader.preprocessors", "nbclient",
                  "nbconvert.exporters", "jupyter_client.manager", "sqlalchemy.orm", "autograder.execution",
                  "autograder.feedback", "autograder.outputcap", "autograder.zygote", "autograder.speedups")


def _fork_before_any_socket():
    """The start method of the pool started ahead (:class:`Workers`): fork, after importing what
    a worker needs, so that no worker imports it again (seconds each); spawn if this process
    has threads. Workers start before this process opens a kernel, a gradebook or any socket."""
    import importlib
    import multiprocessing

    for name in WORKER_MODULES:
        importlib.import_module(name)
    if threading.active_count() > 1:
        return _spawn()
    return multiprocessing.get_context("fork")


def _bar(total, done, enabled, assignment):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=f"grading {assignment}", unit="notebook",
                disable=not enabled)
