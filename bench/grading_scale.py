"""``python -m bench.grading_scale``: a large class of ``a4_lstm`` through ``python -m autograder grade``.

COUNT submissions, a mix like a real class: solved (40 %), partly wrong (one answer left as the
stub, 30 %), blank student copies (20 %), broken (truncated JSON 5 %, an answer that loops
forever 5 %). The same folder is graded once per value of ``--jobs`` (a fresh output folder each
time, one seed), each run a subprocess timed from the command line to its CSV. Reported per run:
total seconds, seconds per submission, the peak memory of the grader and its kernels together
(RSS of the whole process tree, sampled every 0.2 s) and the speedup against the first run.

    .venv/bin/python -m bench.grading_scale                      # 200 submissions, --jobs 1 and 2
    .venv/bin/python -m bench.grading_scale --count 40 --jobs 1,2  # a reduced run
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

from autograder.authoring import answers, fill
from autograder.course import NOTEBOOKS, source_notebook

ASSIGNMENT = "a4_lstm"
MIX = ["solved", "partial", "solved", "blank", "partial", "solved", "partial", "blank", "solved",
       "truncated", "solved", "partial", "solved", "blank", "partial", "solved", "partial", "blank",
       "solved", "loop"]  # 20 in a cycle: 8 solved, 6 partial, 4 blank, 1 truncated, 1 loop


def kinds():
    """{kind: bytes of a submission of that kind}."""
    copy = NOTEBOOKS / f"{ASSIGNMENT}.ipynb"
    solution = answers(source_notebook(ASSIGNMENT))
    partial = {k: v for k, v in solution.items() if k != "answer_backward"}
    loop = {**solution, "answer_forward": "while True:\n    pass"}
    solved = nbformat.writes(fill(copy, solution)).encode()
    return {"solved": solved, "partial": nbformat.writes(fill(copy, partial)).encode(),
            "blank": copy.read_bytes(), "truncated": solved[: len(solved) // 3],
            "loop": nbformat.writes(fill(copy, loop)).encode()}


def write_class(folder, count):
    made = kinds()
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"s{i:04d}.ipynb").write_bytes(made[MIX[i % len(MIX)]])


def tree_rss(process):
    try:
        procs = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def timed_grade(subs, out, jobs, cell_timeout):
    """(seconds, peak RSS bytes of the process tree) of one grade command."""
    argv = [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(subs), "--out", str(out),
            "--seed", "1", "--jobs", str(jobs), "--cell-timeout", str(cell_timeout), "--quiet"]
    start = time.perf_counter()
    proc = psutil.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = [0], threading.Event()

    def sample():
        while not done.wait(0.2):
            peak[0] = max(peak[0], tree_rss(proc))

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"grade failed:\n{err.decode()[-2000:]}")
    return seconds, peak[0]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.grading_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="submissions (default 200)")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to compare")
    parser.add_argument("--cell-timeout", type=int, default=10, help="seconds per cell (the looping answer waits this long)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="grading-scale-"))
    try:
        write_class(root / "subs", args.count)
        print(f"{args.count} submissions of {ASSIGNMENT} on {psutil.cpu_count()} cores "
              f"(load average {psutil.getloadavg()[0]:.1f} at the start)")
        print(f"{'jobs':>4} {'total s':>9} {'s/submission':>13} {'peak MB':>8} {'speedup':>8}")
        first = None
        for jobs in (int(j) for j in args.jobs.split(",")):
            seconds, peak = timed_grade(root / "subs", root / f"out{jobs}", jobs, args.cell_timeout)
            first = first or seconds
            print(f"{jobs:>4} {seconds:>9.1f} {seconds / args.count:>13.2f} {peak / 2**20:>8.0f} "
                  f"{first / seconds:>8.2f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
