"""Grading many submissions: worker processes, a time limit per submission, a journal for resuming.

:func:`grade_all` runs :func:`autograder.grade.grade_submission` over the submissions, in this
process (``jobs=1``) or in ``jobs`` worker processes, each with its own nbgrader API on the same
course directory and gradebook. Every result is written to ``OUT/journal/<student>.json`` as soon
as it is known. A later run skips a submission whose journal entry has the same fingerprint (the
submission's bytes, the assignment source and the seed): an interrupted run resumes with the
ungraded submissions, and grading the same folder twice changes nothing.
"""

import hashlib
import json
import os
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
from .outputcap import TRUNCATED


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
    for path in (submission.path, source_notebook(assignment)):
        if path is not None and Path(path).is_file():
            digest.update(Path(path).read_bytes())
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
        self._timer = threading.Timer(seconds, self._fire)

    def _fire(self):
        self.fired = True
        _kill_kernels()

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()


def grade_one(api, run, submission):
    """Grade one submission: tamper scan, grade_submission under the wall-clock limit, notes, feedback."""
    started = time.monotonic()
    tampering = _tampering(run, submission)
    if tampering:
        result = grading.GradeResult(submission.student, str(submission.path),
                                     scores={gid: 0.0 for gid, _ in run.tests}, max_scores=dict(run.tests))
        result.reason = (f"not graded: the answers change the grader's own code ({tampering[0]}); "
                         f"an instructor can review it")
    else:
        with _Deadline(run.timeout) as deadline:
            result = grading.grade_submission(api, run.assignment, submission, list(run.tests))
        if deadline.fired:
            result.scores = {gid: 0.0 for gid in result.scores}
            result.reason = f"stopped after {run.timeout:g} s: the notebook took too long to grade"
        elif not result.reason:
            result.note = notes(run, submission)
    result.feedback = grading._feedback(api, run.assignment, result, Path(run.feedback_dir))
    if result.note:
        _add_note(result.feedback, result.note)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _read(path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def _tampering(run, submission):
    if submission.problem or grading.read_problem(submission.path):
        return []
    return tamper.scan(tamper.student_cells(_read(submission.path), _read(source_notebook(run.assignment))))


ERROR_WORDS = {
    "KeyboardInterrupt": "was stopped at the time limit of one cell",
    "CellTimeoutError": "was stopped at the time limit of one cell",
    "MemoryError": "asked for more memory than the grader allows (MemoryError)",
    "SystemExit": "called sys.exit()",
}


def notes(run, submission):
    """One line on what went wrong in a graded notebook ("" when nothing did).

    Deleted test cells (they score 0), deleted answer cells, metadata that nbgrader needs and
    that was removed, answer cells that stopped with an error, output cut by the grader.
    """
    submitted = _read(submission.path)
    source = _read(source_notebook(run.assignment))
    found = [_gid(c) for c in submitted.cells]
    said = []
    version = json.loads(Path(submission.path).read_bytes()).get("nbformat")
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
    autograded = (Path(run.course_dir) / "autograded" / submission.student / run.assignment
                  / f"{run.assignment}.ipynb")
    if autograded.is_file():
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

    page = Path(feedback).read_text(encoding="utf-8")
    at = page.find(">", page.find("<body")) + 1
    box = (f'\n<div class="grader-note" style="border:2px solid #c60;padding:0.5em 1em;margin:1em">'
           f"<strong>Note from the grader:</strong> {html.escape(note)}</div>\n")
    Path(feedback).write_text(page[:at] + box + page[at:] if at > 0 else box + page, encoding="utf-8")


_worker = {}


def _start_worker(run):
    grading._quiet_gradebook_warnings()
    run = replace(run, kernel_config=for_this_process(run.kernel_config))
    _worker["run"], _worker["api"] = run, open_course(run)


def _grade_in_worker(submission):
    return grade_one(_worker["api"], _worker["run"], submission)


def grade_all(api, run, submissions, seed, journal_dir, jobs=1, progress=True):
    """Grade ``submissions`` (resuming from ``journal_dir``); returns their GradeResults in order."""
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
        with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker, initargs=(run,),
                                 mp_context=_spawn()) as pool:
            for result in pool.map(_grade_in_worker, todo):
                record(result)
    bar.close()
    return [results[s.student] for s in submissions]


def _spawn():
    import multiprocessing

    return multiprocessing.get_context("spawn")  # never fork a process that holds zmq sockets


def _bar(total, done, enabled, assignment):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=f"grading {assignment}", unit="notebook",
                disable=not enabled)
