"""The grader under attack (issue 15): tests/fixtures/hostile_submissions.py graded in ONE run.

Every attack must fail and the two correct controls graded beside them must get full marks. The
run uses the real grader as root with the sandbox and cgroups where this machine has them (as
CI runs), two worker processes, and a 2 GB memory limit per kernel so that the memory attacks
are cheap.
"""

import csv
import hashlib
import os
import re
import sqlite3
import stat
from pathlib import Path

import nbformat
import pytest

from autograder.containment import Limits, sandbox_status
from autograder.grade import find_submissions, grade, student_id
from fixtures.hostile_submissions import (ASSIGNMENT, FORGERS, FULL, HIDDEN_CALLS, HOGS, LINKERS,
                                          SECRET, SNOOPS, kernel_corpus, write_files)

SEED = 29
SANDBOXED = pytest.mark.skipif(not sandbox_status()[0], reason=sandbox_status()[1])
WATCHED = ["/etc/shadow", "/etc/passwd"]


def _state(path):
    info = os.lstat(path)
    return info.st_mode, info.st_uid, hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _rows(out):
    with open(Path(out) / "grades.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _run(subs, out):
    return grade(ASSIGNMENT, subs, out, seed=SEED, progress=False, jobs=2, cell_timeout=25, timeout=240,
                 limits=Limits(memory_mb=2048, processes=128))


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    subs, outside, out = root / "subs", root / "outside", root / "out"
    subs.mkdir()
    outside.mkdir()
    for student, data in kernel_corpus().items():
        (subs / f"{student}.ipynb").write_bytes(data)
    files = write_files(subs, outside)
    watched = {p: _state(p) for p in WATCHED if os.path.exists(p)}
    results = _run(subs, out)
    return {"subs": subs, "out": out, "files": files, "results": {r.student: r for r in results},
            "rows": _rows(out), "watched": watched, "outside": outside}


def _autograded(attacked, student):
    path = attacked["out"] / "course" / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    return nbformat.read(str(path), as_version=4)


def _printed(attacked, student):
    nb = _autograded(attacked, student)
    return "".join(str(o.get("text", "")) + str(o.get("data", "")) + str(o.get("evalue", ""))
                   for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_the_controls_get_full_marks_beside_the_attacks(attacked):
    for control in ("control_a", "control_b"):
        result = attacked["results"][control]
        assert result.reason == "" and result.total == FULL, result


def test_every_submission_has_exactly_one_row(attacked):
    found = find_submissions(ASSIGNMENT, attacked["subs"])
    assert len(attacked["rows"]) == len(found) == len({s.student for s in found})
    assert len(found) >= 30 + len(attacked["files"]) + 8


@pytest.mark.parametrize("student", sorted(FORGERS))
def test_forged_marks_earn_nothing(attacked, student):
    result = attacked["results"][student]
    assert result.total == 0, (result.scores, result.reason, result.note)


def test_the_seed_cannot_be_chosen_by_the_student(attacked):
    printed = _printed(attacked, "forge_seed")
    seen = printed.split("SEEN", 1)[1].split()
    assert seen and set(seen) == {str(SEED)}, printed[-500:]


def test_runtime_defences_not_only_the_scan_stopped_the_forgers(attacked):
    refused = [s for s in FORGERS if "not graded: the answers change" in attacked["results"][s].reason]
    assert refused == ["forge_frames"]  # the others ran, and the restored state stopped them


@pytest.mark.parametrize("student", sorted(SNOOPS))
def test_hidden_tests_reach_no_output_and_the_snoop_keeps_its_marks(attacked, student):
    result = attacked["results"][student]
    feedback = (attacked["out"] / "feedback" / f"{student}.html").read_text(encoding="utf-8")
    printed = _printed(attacked, student)
    for call in HIDDEN_CALLS:
        assert call not in printed and call not in feedback, (student, call)
    assert "BEGIN HIDDEN TESTS" not in printed + feedback
    assert result.total == FULL, (result.scores, result.reason)


def test_a_trace_function_sees_no_checker_frame(attacked):
    printed = _printed(attacked, "snoop_trace")
    assert printed.split("SEEN", 1)[1].strip() == "", printed[-300:]


@SANDBOXED
def test_threads_are_limited_per_kernel(attacked):
    printed = _printed(attacked, "hog_threads")
    assert "threads refused after" in printed
    assert int(printed.split("threads refused after")[1].split()[0]) < 128
    assert attacked["results"]["hog_threads"].total == FULL


@SANDBOXED
def test_memory_of_forked_children_counts_against_the_kernel(attacked):
    result = attacked["results"]["hog_fork_memory"]
    printed = "" if result.reason else _printed(attacked, "hog_fork_memory")
    killed = int(printed.split("children killed")[1].split()[0]) if "children killed" in printed else 0
    assert killed >= 1 or "the kernel died" in result.reason, (printed[-300:], result.reason)


@SANDBOXED
@pytest.mark.parametrize("student,words", [("hog_tmp", "tmp full after"), ("hog_workdir", "workdir full after")])
def test_tmp_and_the_working_directory_are_capped(attacked, student, words):
    printed = _printed(attacked, student)
    assert words in printed
    assert int(printed.split(words)[1].split()[0]) <= 256
    assert attacked["results"][student].total == FULL


def test_nothing_the_kernels_wrote_or_linked_reaches_the_output(attacked):
    out = attacked["out"]
    for path in out.rglob("*"):
        info = os.lstat(path)
        assert stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode), path
        assert info.st_size < 20 * 2**20, path
        assert not re.fullmatch(r"leftover\d+\.bin|link\d|zero|.*\.fifo", path.name), path
    for path, before in attacked["watched"].items():
        assert _state(path) == before, path
    for student in LINKERS:
        assert attacked["results"][student].total == FULL, attacked["results"][student]


def test_the_gradebook_is_intact_and_the_run_resumes(attacked):
    with sqlite3.connect(attacked["out"] / "course" / "gradebook.db") as db:
        assert db.execute("select count(*) from submitted_assignment").fetchone()[0] > 0
    before = attacked["rows"]
    (attacked["out"] / "journal" / "control_a.json").unlink()
    _run(attacked["subs"], attacked["out"])
    assert _rows(attacked["out"]) == before


def test_no_process_of_the_kernels_outlives_the_run(attacked):
    import psutil

    daemons = [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[:2] == ["sleep", "613"]]
    assert not daemons


def test_files_that_are_not_notebooks_get_a_row_and_a_reason(attacked):
    rows = attacked["rows"]
    for name, words in attacked["files"].items():
        row = rows[student_id(name)]
        assert float(row["total"]) == 0 and words in row["reason"], (name, row["reason"])
    everything = (attacked["out"] / "grades.csv").read_text() + "".join(
        p.read_text(errors="replace") for p in (attacked["out"] / "feedback").glob("*.html"))
    assert SECRET not in everything and "root:x:0" not in everything


def test_colliding_names_get_their_own_rows_and_marks(attacked):
    rows, results = attacked["rows"], attacked["results"]
    solved = {"zoë": FULL, "zoé": 0, "ali_ce": FULL, "ali ce": 0, "Иван": FULL, "Борис": 0, "bob": FULL}
    for name, total in solved.items():
        assert float(rows[student_id(name)]["total"]) == total, name
    assert len({student_id(n) for n in solved}) == len(solved)
    other_bob = [s for s in rows if s.startswith("bob-")]
    assert len(other_bob) == 1 and float(rows[other_bob[0]]["total"]) == 0
    warned = {s.name for s in find_submissions(ASSIGNMENT, attacked["subs"]) if s.warning}
    assert {"bob", "zoë", "zoé"} <= warned
    assert student_id("zoe\u0308") == student_id("zo\u00eb")  # macOS (NFD) and Windows (NFC) zips
    assert all(r.student == r.student.encode("ascii", "ignore").decode() for r in results.values())


def test_kill_9_of_the_grader_ends_its_workers_and_kernels_and_the_next_run_sweeps(tmp_path):
    """SIGKILL the grader's main process alone (not its group) while kernels run: nothing it started
    survives for long, and the next run removes the cgroups and folders the killed run left."""
    import glob
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    import psutil

    from autograder import cgroups
    from autograder.containment import RUN_PREFIX, grading_kernel

    subs = tmp_path / "subs"
    subs.mkdir()
    slow = kernel_corpus()["control_a"].replace(b'"def elman_forward', b'"import time\\ntime.sleep(60)\\ndef elman_forward', 1)
    for k in range(3):
        (subs / f"s{k}.ipynb").write_bytes(slow)
    grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(subs), "--out",
                               str(tmp_path / "out"), "--jobs", "2", "--quiet", "--seed", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    started = []
    while time.monotonic() < deadline and grader.poll() is None:
        started = psutil.Process(grader.pid).children(recursive=True)
        if sum("autograder.kernel" in " ".join(p.cmdline()) or p.name() == "grading-kernel"  # forked
               for p in started if p.is_running()) >= 2:
            break
        time.sleep(0.5)
    assert grader.poll() is None and started, "the grader ended before its kernels started"
    os.kill(grader.pid, signal.SIGKILL)
    grader.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                                              for p in started):
        time.sleep(0.5)
    survivors = []
    for p in started:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                survivors.append(" ".join(p.cmdline()))
        except psutil.Error:
            pass
    with grading_kernel():
        pass  # the start-up sweep of the next run
    left = [p.pid for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, left
    # the parent-death signals end everything but a sandbox killed while it was being set up
    # (bubblewrap sets its own parent-death signal after it forks); the sweep ends that one
    assert all(line.startswith(shutil.which("bwrap") or "bwrap") for line in survivors), survivors
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"{RUN_PREFIX}{grader.pid}-*"))
    assert not [p for p in cgroups.stale_parents(RUN_PREFIX, lambda pid: False) if f"{RUN_PREFIX}{grader.pid}-" in p]


def test_outputs_are_capped_per_cell_and_per_notebook():
    """5 000 cells of 90 000 characters each (the 104 MB feedback page of the issue) keep 2 MB."""
    import json

    from autograder.outputcap import TRUNCATED, CapOutput

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('x' * 90_000)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="x" * 90_000)]) for _ in range(5000)])
    nb.cells[-1].outputs.append(nbformat.v4.new_output("error", ename="CheckFailed", evalue="m" * 10_000, traceback=[]))
    CapOutput().preprocess(nb, {})
    assert len(json.dumps(nb)) < 3_000_000  # 2 MB of output, and the cells themselves
    assert sum(TRUNCATED in str(c.outputs) for c in nb.cells) <= 2  # said once or twice, not 5 000 times
    assert not nb.cells[-2].outputs
    assert nb.cells[-1].outputs[-1].ename == "CheckFailed"  # a test's message is always kept
