"""What holds without cgroups, and the time limit of a submission covering its feedback (issue 15).

Without cgroups (a machine with cgroup v2 only, or none), each kernel runs as a user of its own
and a watchdog sums the resident memory of that user's processes (autograder.execution). Here the
machine has cgroup v1, so the grader runs in a mount namespace of its own whose /sys/fs/cgroup is
an empty tmpfs: the real code path of a machine without them, nothing imitated. The notebooks run
through the grader's own Execute step (ContainedExecute) in the contained kernel.

``--timeout`` covers everything done for a submission: a notebook whose grading is quick but
whose feedback page takes far longer to write (thousands of lines of Markdown) keeps its points
and gets the short page within the limit, with a note that says why.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grading import points, read_csv, solved, write_submissions

from autograder.grade import grade

REPO = Path(__file__).resolve().parents[1]
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                             reason="needs root and unshare(1) to hide the cgroups from the grader")

DRIVER = r"""
import json, os, sys, tempfile, time
import nbformat, psutil
from traitlets.config import Config
from autograder import cgroups
from autograder.containment import Limits, grading_kernel, kernel_uid
from autograder.execution import ContainedExecute

notebooks, memory_mb = json.loads(sys.argv[1]), int(sys.argv[2])
report = {"cgroups": cgroups.available()[0], "uid": kernel_uid(os.getpid()), "runs": []}
with grading_kernel(Limits(cpu_seconds=60, memory_mb=memory_mb, processes=64), cell_timeout=30) as (config, message):
    report["message"] = message
    for cells in notebooks:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        start, died = time.monotonic(), ""
        try:
            ContainedExecute(config=Config(config)).preprocess(nb, {"metadata": {"path": tempfile.mkdtemp()}})
        except Exception as exc:
            died = type(exc).__name__
        left = [p.pid for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == report["uid"]]
        report["runs"].append({"died": died, "seconds": time.monotonic() - start, "left": left,
                               "printed": ["".join(o.get("text", "") or f"{o.get('ename')}: {o.get('evalue')}"
                                               for o in c.get("outputs", [])) for c in nb.cells]})
print("REPORT" + json.dumps(report))
"""

FORK_MEMORY = """
import os, time
kids = []
for _ in range({children}):
    pid = os.fork()
    if pid == 0:
        try:
            block = b'1' * ({mb} * 2**20)  # written, so resident
            time.sleep(8)
        finally:
            os._exit(0)
    kids.append(pid)
codes = [os.waitpid(p, 0)[1] for p in kids]
print('children killed', sum(os.WIFSIGNALED(c) for c in codes))
"""

WHO = "import os; print('uid', os.getuid())"
THREADS = """
import threading, time
started = []
try:
    for _ in range(200):
        t = threading.Thread(target=time.sleep, args=(2,)); t.start(); started.append(t)
    print('threads', len(started))
except RuntimeError:
    print('threads refused after', len(started))
"""
DAEMON = "import subprocess; subprocess.Popen(['sleep', '619'], start_new_session=True); print('daemon started')"


def without_cgroups(notebooks, memory_mb):
    """Run ``notebooks`` (lists of cell sources) in contained kernels where no cgroup exists."""
    script = ("mount -t tmpfs none /sys/fs/cgroup && exec \"$0\" -c \"$1\" \"$2\" \"$3\"")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                           sys.executable, DRIVER, json.dumps(notebooks), str(memory_mb)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("REPORT")]
    assert done.returncode == 0 and line, done.stderr[-3000:]
    return json.loads(line[0][len("REPORT"):])


@AS_ROOT
def test_without_cgroups_the_watchdog_kills_a_kernel_whose_children_pass_the_memory_limit():
    # 2.5 GB in all: over 2 GB; each child's address space (a forked kernel's holds numpy's
    # already) stays under the per-process limit of 2 GB
    report = without_cgroups([[FORK_MEMORY.format(children=5, mb=500)],
                              [FORK_MEMORY.format(children=2, mb=300), WHO]], memory_mb=2048)
    assert report["cgroups"] is False and "no cgroups" in report["message"]
    assert "a memory watchdog per kernel" in report["message"]
    over, under = report["runs"]
    # each child alone is under every per-process limit: only the sum of the kernel's user counts
    assert over["died"] == "DeadKernelError", over
    assert over["seconds"] < 8, over  # killed while the children slept, not after
    assert over["left"] == [] and under["left"] == []
    assert under["died"] == "" and "children killed 0" in under["printed"][0], under
    assert under["printed"][1].strip() == f"uid {report['uid']}"


@AS_ROOT
def test_without_cgroups_each_kernel_has_a_user_of_its_own_that_limits_it_and_ends_with_it():
    report = without_cgroups([[WHO, DAEMON, THREADS]], memory_mb=3072)
    (run,) = report["runs"]
    assert run["died"] == "", run
    assert run["printed"][0].strip() == f"uid {report['uid']}" and report["uid"] != 0
    assert "daemon started" in run["printed"][1], run["printed"]
    # the process limit counts per user: this kernel's threads alone, refused below the limit
    assert "threads refused after" in run["printed"][2], run["printed"]
    assert int(run["printed"][2].split("after")[1]) < 64
    assert run["left"] == []  # the daemon in its own session went with the kernel's user
    assert not [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
                if line.strip() == "sleep 619"]


MARKDOWN = ("A long note with *emphasis*, `code`, a [link](#top) and the formula $h_t = \\tanh(x_t W_x + "
            "h_{t-1} W_h + b)$ again and again. ") * 160  # about 20 KB


def test_timeout_covers_writing_the_feedback_page(tmp_path):
    """Grading takes seconds; nbconvert needs far longer for this page (600 notes of 20 KB): the limit
    stops it, the points stay, the student gets the short page and the note says why."""
    notebook = solved("a1_elman")
    notebook.cells += [nbformat.v4.new_markdown_cell(f"## Note {i}\n\n{MARKDOWN}") for i in range(600)]
    folder = write_submissions(tmp_path / "subs", "a1_elman", {"long": notebook})
    limit = 14.0
    start = time.monotonic()
    (result,) = grade("a1_elman", folder, tmp_path / "out", seed=5, progress=False, timeout=limit)
    assert result.seconds <= limit + 3, result.seconds
    assert result.reason == "", result.reason  # graded: the points are kept
    assert result.total == sum(points("a1_elman").values())
    assert f"the feedback page was not written within the {limit:g} s limit" in result.note
    page = Path(result.feedback).read_text(encoding="utf-8")
    assert "The points of each test" in page and len(page) < 20_000
    assert "test_forward_values" in page
    row = read_csv(tmp_path / "out")["long"]
    assert float(row["total"]) == result.total and "feedback page was not written" in row["reason"]
    assert time.monotonic() - start < limit + 60  # the run's own set-up and reports included
