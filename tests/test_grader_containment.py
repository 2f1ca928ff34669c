"""The contained grading kernel (autograder.containment): real kernels, real notebooks, via nbclient.

One sandboxed kernel runs a notebook of hostile cells; each cell prints what happened, and the
tests read those lines. Limits are small so that every attack is cheap to try. The notebook runs
twice: in a kernel started by the launcher, and in one forked from the zygote
(autograder.zygote, the grader's default as root with bubblewrap); both must hold the same.
"""

import json
import os
import subprocess
import sys
import tempfile

import nbclient
import nbformat
import pytest
from traitlets.config import Config

from autograder import zygote
from autograder.containment import KERNEL_NAME, Limits, grading_kernel, sandbox_status
from autograder.zygote import ForkedKernelManager

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMITS = Limits(cpu_seconds=60, memory_mb=3072, file_mb=8, processes=64)
SANDBOXED = pytest.mark.skipif(not sandbox_status()[0], reason=sandbox_status()[1])

HOSTILE_CELLS = {
    "whoami": "import os; print('uid', os.getuid())",
    "environment": "import os; print('secret seen' if 'PGPASSWORD' in os.environ else 'no secret')",
    "network": """
import socket
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2); print('network open')
except OSError as e:
    print('network blocked', type(e).__name__)
""",
    "solutions": f"""
import os
print('repo sees', sorted(os.listdir({REPO!r})))
try:
    open({os.path.join(REPO, 'README.md')!r}).read(); print('read repo file')
except OSError as e:
    print('repo file hidden', type(e).__name__)
""",
    "write_outside": f"""
for path in [{os.path.join(REPO, 'planted.txt')!r}, '/etc/planted', '/usr/planted']:
    try:
        open(path, 'w').write('x'); print('wrote', path)
    except OSError as e:
        print('write refused', path, type(e).__name__)
""",
    "write_inside": "open('scratch.txt', 'w').write('fine'); print('wrote inside', open('scratch.txt').read())",
    "big_file": """
try:
    with open('big.bin', 'wb') as f:
        f.write(b'0' * (32 * 2**20))
    print('wrote big file')
except OSError as e:
    print('big file refused', e.errno)
import os; print('size', os.path.getsize('big.bin'))
""",
    "memory": """
import numpy as np
try:
    a = np.zeros(2**31); print('allocated 16 GB')
except MemoryError:
    print('allocation refused MemoryError')
""",
    "fork_bomb": """
import os, time
pids = []
try:
    for _ in range(400):
        pid = os.fork()
        if pid == 0:
            time.sleep(2); os._exit(0)
        pids.append(pid)
    print('forked', len(pids))
except OSError as e:
    print('fork refused after', len(pids), type(e).__name__)
for pid in pids:
    os.waitpid(pid, 0)
""",
    "capabilities": "print('CapEff', open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
    "processes": "import os; print('pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))",
    "loop": "while True: pass",
    "alive": "print('still alive')",
}


def run_notebook(cells, limits=LIMITS, sandbox="auto", cell_timeout=4, workdir=None, start="launcher", readable=()):
    """Execute code cells in the contained kernel; return (notebook, containment message).

    start: "launcher" (the kernelspec's command) or "zygote" (forked, autograder.zygote); a list
    of cell lists runs one notebook after the other (in the same zygote) and returns the notebooks.
    """
    notebooks = [nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in group])
                 for group in (cells if cells and isinstance(cells[0], list) else [cells])]
    with grading_kernel(limits, sandbox=sandbox, cell_timeout=cell_timeout, readable=readable) as (config, message):
        for nb in notebooks:
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "ignored", "language": "python"}
            # a forked kernel's working directory is in the run's scratch folder, as the grader
            # makes it (autograder.execution); what reaches the grader there is mirrored to workdir
            folder = workdir if start == "launcher" else tempfile.mkdtemp(dir=config["ContainedExecute"]["scratch"])
            client = nbclient.NotebookClient(
                nb, kernel_name=config["Execute"]["kernel_name"], timeout=cell_timeout,
                interrupt_on_timeout=True, allow_errors=True, config=Config(config),
                resources={"metadata": {"path": str(folder)}},
                **({"kernel_manager_class": ForkedKernelManager} if start == "zygote" else {}))
            client.execute()
            if workdir is not None and str(folder) != str(workdir):
                for name in os.listdir(folder):
                    open(os.path.join(workdir, name), "w").close()
    return (notebooks if len(notebooks) > 1 else notebooks[0]), message


def cell_text(cell):
    parts = [o.get("text", "") for o in cell.outputs if o.output_type == "stream"]
    parts += [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
    return "".join(parts)


FORKED = pytest.mark.skipif(not (sandbox_status()[0] and zygote.usable(True)),
                            reason="kernels are forked from a zygote only as root with bubblewrap")


@pytest.fixture(scope="module", params=["launcher", pytest.param("zygote", marks=FORKED)])
def hostile(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("student")
    os.environ["PGPASSWORD"] = "the grader's secret"
    try:
        nb, message = run_notebook(list(HOSTILE_CELLS.values()), workdir=workdir, start=request.param)
    finally:
        del os.environ["PGPASSWORD"]
    return dict(zip(HOSTILE_CELLS, map(cell_text, nb.cells))), message, workdir


@SANDBOXED
def test_kernel_runs_in_the_sandbox_as_an_unprivileged_user(hostile):
    out, message, _ = hostile
    assert "no network" in message
    if os.geteuid() == 0:
        assert out["whoami"].strip() != "uid 0"
    assert "network blocked" in out["network"]
    assert out["capabilities"].strip() == "CapEff 0000000000000000"
    assert out["processes"].strip() in ("pids [1, 2]", "pids [2]"), out["processes"]  # its own namespace


@SANDBOXED
def test_repository_shows_only_the_importable_packages(hostile):
    out, _, _ = hostile
    assert "repo sees ['.venv', 'autograder', 'rnn_ref', 'student']" in out["solutions"]  # student/: rnn_course
    assert "repo file hidden" in out["solutions"]


@SANDBOXED
def test_writes_outside_the_working_directory_fail_and_inside_succeed(hostile):
    out, _, workdir = hostile
    assert "wrote " not in out["write_outside"], out["write_outside"]
    assert out["write_outside"].count("write refused") == 3
    assert not os.path.exists(os.path.join(REPO, "planted.txt"))
    assert "wrote inside fine" in out["write_inside"]
    # the working directory is a tmpfs of the sandbox: nothing written there reaches the grader
    assert not (workdir / "scratch.txt").exists()


def test_the_grader_environment_does_not_reach_the_kernel(hostile):
    assert hostile[0]["environment"].strip() == "no secret"


def test_limits_refuse_big_files_huge_allocations_and_fork_bombs(hostile):
    out, _, workdir = hostile
    assert "big file refused 27" in out["big_file"]  # EFBIG, the kernel is not killed
    assert int(out["big_file"].split("size")[1]) <= LIMITS.file_mb * 2**20
    assert "allocation refused MemoryError" in out["memory"]
    assert "fork refused after" in out["fork_bomb"], out["fork_bomb"]


def test_an_infinite_loop_is_interrupted_and_the_kernel_goes_on(hostile):
    out, _, _ = hostile
    assert "KeyboardInterrupt" in out["loop"]
    assert out["alive"].strip() == "still alive"


def test_the_cpu_limit_ends_a_kernel_that_ignores_interrupts(tmp_path):
    stubborn = "import time\nwhile True:\n    try:\n        sum(range(10**6))\n    except KeyboardInterrupt:\n        pass"
    with pytest.raises(nbclient.exceptions.DeadKernelError):
        run_notebook([stubborn], Limits(cpu_seconds=3, memory_mb=3072, file_mb=8, processes=64),
                     cell_timeout=30, workdir=tmp_path)


def test_without_the_sandbox_the_limits_still_apply_and_the_message_says_so(tmp_path):
    nb, message = run_notebook([HOSTILE_CELLS["memory"]], sandbox="off", workdir=tmp_path)
    assert message.startswith("sandbox OFF")
    assert "allocation refused MemoryError" in cell_text(nb.cells[0])


def test_a_machine_without_bubblewrap_is_named_at_run_time():
    code = ("from autograder.containment import sandbox_status, grading_kernel\n"
            "print(sandbox_status()[1])\n"
            "with grading_kernel() as (_, message): print(message)\n"
            "try:\n    grading_kernel(sandbox='on').__enter__()\nexcept RuntimeError as e: print(e)")
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))  # no /usr/bin: no bwrap
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "bubblewrap is not installed (Debian package 'bubblewrap')"
    assert out[1].startswith("sandbox OFF (bubblewrap is not installed")
    assert out[2].startswith("sandbox requested but not available")


def test_kernelspec_is_removed_after_the_run():
    with grading_kernel(LIMITS) as (config, _):
        root = os.environ["JUPYTER_PATH"].split(os.pathsep)[0]
        with open(os.path.join(root, "kernels", KERNEL_NAME, "kernel.json")) as f:
            spec = json.load(f)
        assert spec["argv"][-2:] == ["-f", "{connection_file}"]
        assert config["KernelManager"]["transport"] == "ipc"
    assert not os.path.exists(root)


def test_the_kernel_python_path_has_no_dot_dot_when_the_grader_was_started_through_one():
    relative = os.path.join(REPO, "tests", "..", os.path.relpath(sys.executable, REPO))
    out = subprocess.run([relative, "-c", "from autograder.containment import PYTHON; print(PYTHON)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert ".." not in out.split(os.sep) and os.path.samefile(out, sys.executable)


@FORKED
def test_nothing_of_one_forked_kernel_reaches_the_next(tmp_path):
    """Two notebooks, one after the other, forked from the same zygote: the second starts clean."""
    first = ["import numpy, builtins, sys, os\nnumpy.pi = 3\nbuiltins.leak = 1\nsys.modules['planted'] = numpy\n"
             "os.environ['LEAK'] = '1'\nopen('/tmp/left.txt', 'w').write('x')\nopen('here.txt', 'w').write('x')\n"
             "secret = 42\nprint('planted')"]
    second = ["import numpy, builtins, sys, os\nprint(numpy.pi, hasattr(builtins, 'leak'), 'planted' in sys.modules,"
              " 'LEAK' in os.environ, os.path.exists('/tmp/left.txt'), os.listdir('.'), 'secret' in dir())"]
    before = zygote.forked_kernels()
    (one, two), _ = run_notebook([first, second], start="zygote")
    assert zygote.forked_kernels() - before == 2
    assert cell_text(one.cells[0]).strip() == "planted"
    assert cell_text(two.cells[0]).strip() == "3.141592653589793 False False False False [] False"


@FORKED
@pytest.mark.parametrize("start", ["launcher", "zygote"])
def test_a_kernel_reads_what_is_readable_under_tmp_over_its_fresh_tmp(tmp_path, start):
    """A course checked out under /tmp (a CI runner may): the forked kernel's fresh /tmp must not
    hide its Python and packages. Here a readable folder under pytest's /tmp holds a module."""
    (tmp_path / "module_under_tmp.py").write_text("VALUE = 42\n")
    tmp_path.chmod(0o755)  # pytest's folders are the grader's alone; a checkout is readable by all
    nb, _ = run_notebook([f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport module_under_tmp\n"
                          "print('value', module_under_tmp.VALUE)"],
                         start=start, readable=[str(tmp_path)], workdir=tempfile.mkdtemp())
    assert "value 42" in cell_text(nb.cells[0]), cell_text(nb.cells[0])


@FORKED
def test_a_forked_kernel_that_ignores_interrupts_ends_at_its_cpu_limit(tmp_path):
    stubborn = "import time\nwhile True:\n    try:\n        sum(range(10**6))\n    except KeyboardInterrupt:\n        pass"
    with pytest.raises(nbclient.exceptions.DeadKernelError):
        run_notebook([stubborn], Limits(cpu_seconds=3, memory_mb=3072, file_mb=8, processes=64),
                     cell_timeout=30, workdir=tmp_path, start="zygote")


@FORKED
def test_a_zygote_that_cannot_start_leaves_the_kernels_to_the_launcher(monkeypatch):
    monkeypatch.setattr(zygote, "CAPABILITIES", ("CAP_NOT_A_CAPABILITY",))  # bubblewrap refuses it
    before = zygote.forked_kernels()
    nb, _ = run_notebook(["import os; print('ran as', 'root' if os.getuid() == 0 else 'its user')"],
                         start="zygote")
    assert cell_text(nb.cells[0]).strip() == "ran as its user"
    assert zygote.forked_kernels() == before
