"""Kernels forked ahead (autograder.zygote's spares): while a notebook runs, the grader forks the
kernel of its next notebook. Such a kernel must be exactly as fresh and as contained as one
forked when its notebook starts: the previous notebook (running at the same time) cannot reach it,
it runs as another user, its cgroup is the one its notebook's executor kills, and it is used only
by a notebook whose kernel would have been started the same way (environment, data files).

The notebooks run through the grader's own Execute step (autograder.execution.ContainedExecute)
in the contained kernel, one after the other in this process, as a grading worker runs them.
"""

import os
import re
import tempfile
from pathlib import Path

import nbformat
import psutil
import pytest
from traitlets.config import Config

from autograder import cgroups, zygote
from autograder.containment import UID_BASE, Limits, grading_kernel, sandbox_status
from autograder.execution import ContainedExecute

pytestmark = pytest.mark.skipif(
    not (sandbox_status()[0] and zygote.usable(True) and cgroups.available()[0]),
    reason="kernels are forked ahead only as root with bubblewrap and cgroups")

FIRST = """import os, signal, numpy
numpy.pi = 3
open('/tmp/left.txt', 'w').write('x')
open('here.txt', 'w').write('x')
try:
    os.kill(-1, signal.SIGKILL)  # every process this user may signal (not itself)
except OSError as exc:
    print('kill', type(exc).__name__)
print('uid', os.getuid())
"""
LOOK = """import os, numpy
print('uid', os.getuid())
print('cgroup', [line.rsplit('/', 1)[-1] for line in open('/proc/self/cgroup') if ':pids:' in line][0])
print('seen', numpy.pi, os.path.exists('/tmp/left.txt'), sorted(os.listdir('.')))
print('data', open('data.txt').read(), 'seed', os.environ.get('AUTOGRADER_SEED'))
print('processes', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
"""


def run(notebooks, tmp_path):
    """Run each (cells, data text, seed) notebook through ContainedExecute; returns
    ([(printed text, the executor's cgroup name, cgroups left after it)], the zygote's log)."""
    log = tmp_path / "zygote.log"
    data = tmp_path / "data"
    data.mkdir()
    saved = {k: os.environ.get(k) for k in ("AUTOGRADER_ZYGOTE_LOG", "AUTOGRADER_SEED")}
    os.environ["AUTOGRADER_ZYGOTE_LOG"] = str(log)
    out = []
    try:
        with grading_kernel(Limits(cpu_seconds=60, memory_mb=3072, processes=64), cell_timeout=30) as (config, _):
            parent = config["ContainedExecute"]["cgroup_parent"]
            for cells, text, seed in notebooks:
                (data / "data.txt").write_text(text)
                os.environ["AUTOGRADER_SEED"] = seed
                nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
                executor = ContainedExecute(config=Config(config))
                executor.preprocess(nb, {"metadata": {"path": str(data)}})
                printed = "".join(o.get("text", "") for c in nb.cells for o in c.outputs)
                left = sorted(os.listdir(parent.split(",")[0]))
                out.append((printed, executor._cgroup, [d for d in left if not d.startswith("memory.")
                                                        and not d.startswith("cgroup.")
                                                        and d not in ("notify_on_release", "tasks")]))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return out, log.read_text()


def field(printed, name):
    return next(line.split(" ", 1)[1] for line in printed.splitlines() if line.startswith(name + " "))


def test_the_kernel_forked_ahead_is_fresh_contained_and_its_notebooks_own(tmp_path):
    runs, log = run([([FIRST], "one", "7"), ([LOOK], "one", "7"), ([LOOK], "one", "7")], tmp_path)
    (first, _, left1), (second, cgroup2, left2), (third, cgroup3, _) = runs
    events = re.findall(r"^(kernel \d+ forked|spare \d+ started|kernel \d+ forked ahead, taken)$", log, re.M)
    # the first notebook's kernel is forked for it; each later one was forked ahead and taken
    assert [e.split()[0] + " " + e.split(" ", 2)[2] for e in events] == [
        "kernel forked", "spare started", "kernel forked ahead, taken", "spare started",
        "kernel forked ahead, taken", "spare started"], log
    # the kernel forked ahead ran while the first notebook killed whatever its user could reach
    uids = [int(field(r[0], "uid")) for r in runs]
    assert uids[1] != uids[0] and uids[2] == uids[0] and all(u >= UID_BASE for u in uids)
    for printed, cgroup in ((second, cgroup2), (third, cgroup3)):
        assert field(printed, "cgroup") == cgroup  # the executor's, which it kills afterwards
        assert field(printed, "seen") == "3.141592653589793 False ['data.txt']"
        assert field(printed, "data") == "one seed 7"
        assert len(field(printed, "processes").split(",")) <= 2  # its init and itself
    # after each notebook only the next notebook's spare is left in the run's cgroup
    assert len(left1) == 1 and left1[0].startswith(zygote.SPARE_PREFIX)
    assert len(left2) == 1 and left2[0].startswith(zygote.SPARE_PREFIX) and left2 != left1
    assert not [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids]


def test_a_kernel_forked_ahead_for_other_data_or_another_environment_is_not_used(tmp_path):
    runs, log = run([([LOOK], "one", "7"), ([LOOK], "one", "8"), ([LOOK], "two", "8"),
                     ([LOOK], "two", "8")], tmp_path)
    fresh = len(re.findall(r"^kernel \d+ forked$", log, re.M))
    taken = log.count("forked ahead, taken")
    assert (fresh, taken) == (3, 1), log  # the seed changed, then the data: fresh kernels
    assert [field(r[0], "data") for r in runs] == ["one seed 7", "one seed 8", "two seed 8", "two seed 8"]
    assert all(field(r[0], "cgroup") == r[1] for r in runs)
    # a spare that was not used is gone with its cgroup: only the last one is left
    assert all(len(r[2]) == 1 for r in runs)
