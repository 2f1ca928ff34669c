"""How the grader runs a submitted notebook: nbgrader's Execute step, contained and with trusted verdicts.

:class:`ContainedExecute` replaces nbgrader's ``Execute`` in the autograde pipeline
(autograder.containment configures it). For each notebook it

- starts the kernel in a fresh, empty working directory of its own (in the sandbox, a size-capped
  tmpfs), never in nbgrader's ``autograded/`` folder: the kernel sees neither the notebook file
  (with the hidden tests) nor anything the grader later writes, and nothing is read back from its
  directory: the executed notebook comes back as the kernel's messages only;
- gives the kernel a user id of its own and, where cgroups exist, a cgroup of its own
  (autograder.cgroups), killed with everything in it when the notebook is done; without cgroups a
  watchdog kills the kernel's processes when their resident memory passes the limit;
- runs each test cell here, in the grader's process (autograder.channel): the cell's code calls
  the student's functions in the kernel through a channel, and its verdict is whether the code
  raised, here; the hidden tests' code never reaches the kernel, and with the sandbox the kernel
  sees neither the check modules nor rnn_ref (``AUTOGRADER_HIDE_REFERENCE``, read by
  autograder.containment). A check whose student objects must live in the kernel (a7's, which
  train a torch model in place) asks the kernel for an experiment of the course's package
  (autograder.experiments) and judges the data it sends back here;
- scores a test from the verdict alone: a test's outputs cannot carry a score (``execute_result``
  outputs are dropped, stderr is shown as stdout), and its error output is the verdict's.
"""

import os
import shutil
import tempfile
import threading
import time
import uuid

from jupyter_core.utils import run_sync
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

from . import cgroups
from .containment import CGROUP_VARIABLE, HIDE_VARIABLE, UID_VARIABLE, kernel_uid


class ContainedExecute(Execute):
    """nbgrader's Execute with a private working directory, per-kernel limits and trusted verdicts."""

    scratch = Unicode("", help="folder for the kernels' working directories").tag(config=True)
    cgroup_parent = Unicode("", help="the run's parent cgroups (autograder.cgroups), or ''").tag(config=True)
    memory_mb = Integer(4096, help="resident memory of a kernel with its children (watchdog)").tag(config=True)
    # nbgrader fails the whole notebook when outputs arrive late (a late error output would have
    # given full marks); here the verdict is the reply's, so late outputs are only late
    raise_on_iopub_timeout = Bool(False).tag(config=True)
    iopub_timeout = Integer(10).tag(config=True)

    call_timeout = Integer(0, help="time limit of one call into the kernel (s); 0: the cell's").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        resources = resources if resources is not None else {}
        self._channel = None
        metadata = resources.setdefault("metadata", {})
        original = metadata.get("path")
        workdir = tempfile.mkdtemp(prefix="work-", dir=self.scratch or None)
        os.chmod(workdir, 0o711)
        _copy_data_files(original, workdir)
        self._cgroup = uuid.uuid4().hex[:12]
        metadata["path"] = workdir
        watchdog = None if self.cgroup_parent else _Watchdog(self.memory_mb, kernel_uid(os.getpid()))
        try:
            if watchdog:
                watchdog.start()
            return super().preprocess(nb, resources, km)
        finally:
            if self._channel is not None:
                self._channel.close()
                self._channel = None
            if watchdog:
                watchdog.stop()
            if self.cgroup_parent:
                cgroups.kill(self.cgroup_parent, self._cgroup)
            elif os.geteuid() == 0:
                _kill_user(kernel_uid(os.getpid()))  # the kernel's user is its alone
            metadata["path"] = original
            shutil.rmtree(workdir, ignore_errors=True)  # fd-based: links in it are removed, not followed

    async def async_start_new_kernel(self, **kwargs):
        env = dict(kwargs.pop("env", None) or os.environ)
        env[UID_VARIABLE] = str(kernel_uid(os.getpid()))
        env[CGROUP_VARIABLE] = self._cgroup
        env[HIDE_VARIABLE] = "1"  # the checks and the reference: no test needs them in the kernel
        return await super().async_start_new_kernel(env=env, **kwargs)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type == "code" and utils.is_grade(cell) and cell.source.strip():
            return self._run_trusted(cell, cell_index, execution_count)
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    def _run_trusted(self, cell, cell_index, execution_count):
        """Run a test cell here, calling the student's functions in the kernel (autograder.channel)."""
        from nbclient.exceptions import DeadKernelError

        from .channel import Channel, KernelDied, run_test_cell
        from .experiments import installed

        self.code_cells_executed += 1
        timeout = self._get_timeout(cell) or None
        try:
            if self._channel is None:
                self._channel = Channel(self.km.get_connection_info(), alive=self._kernel_alive,
                                        call_timeout=self.call_timeout or timeout or 600)
            with installed(self._channel):
                outputs, content = run_test_cell(cell.source, self._channel, timeout)
        except KernelDied:
            raise DeadKernelError("Kernel died") from None
        cell.outputs = [NotebookNode(output_type="stream", name=name, text=text) for name, text in outputs]
        if execution_count:
            cell["execution_count"] = execution_count
        content.update(execution_count=execution_count, user_expressions={}, payload=[])
        self.on_cell_executed(cell=cell, cell_index=cell_index, execute_reply={"content": content})
        self.nb["cells"][cell_index] = cell
        return cell

    def _kernel_alive(self):
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        return process is None or process.poll() is None

    # nbclient binds its synchronous entry points to its own coroutines: rebind them to these
    start_new_kernel = run_sync(async_start_new_kernel)
    execute_cell = run_sync(async_execute_cell)

    def on_cell_executed(self, **kwargs):
        cell, reply = kwargs["cell"], kwargs.get("execute_reply")
        if not (cell.cell_type == "code" and utils.is_grade(cell)):
            return super().on_cell_executed(**kwargs)
        content = (reply or {}).get("content") or {"status": "error", "ename": "NoReply",
                                                   "evalue": "the kernel sent no reply", "traceback": []}
        kept = []
        for output in cell.outputs:
            if output.output_type in ("error", "execute_result"):
                continue  # the verdict is the reply's; a displayed value is no score
            if output.output_type == "stream" and output.name == "stderr":
                output.name = "stdout"
            kept.append(output)
        if content.get("status") != "ok":
            error = NotebookNode(output_type="error", ename=str(content.get("ename", "Error")),
                                 evalue=str(content.get("evalue", "")),
                                 traceback=[str(t) for t in content.get("traceback") or []]
                                 or [f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"])
            kept.append(error)
        cell.outputs = kept
        return None


def _copy_data_files(source, workdir):
    """Copy the regular files of ``source`` (the assignment's data, never a notebook or a link)."""
    if not source or not os.path.isdir(source):
        return
    with os.scandir(source) as it:
        for entry in it:
            if entry.is_file(follow_symlinks=False) and not entry.name.endswith(".ipynb") \
                    and entry.name != "timestamp.txt":
                shutil.copyfile(entry.path, os.path.join(workdir, entry.name), follow_symlinks=False)


class _Watchdog:
    """Without cgroups: kill the kernel's processes when their resident memory passes the limit.

    The kernel's processes are those of its user (a user per kernel when the grader is root) or,
    for a grader that is not root, the process group of the kernel's launcher.
    """

    def __init__(self, memory_mb, uid, period=0.5):
        self.limit, self.uid, self.period = memory_mb * 2**20, uid, period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _processes(self):
        import psutil

        me = os.getpid()
        if os.geteuid() == 0:
            return [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == self.uid]
        kids = psutil.Process(me).children(recursive=True)
        groups = {os.getpgid(k.pid) for k in kids if _safe_pgid(k.pid) not in (None, os.getpgid(me))}
        return [p for p in psutil.process_iter() if _safe_pgid(p.pid) in groups]

    def _run(self):
        import psutil

        while not self._stop.wait(self.period):
            try:
                processes = self._processes()
                rss = sum(p.memory_info().rss for p in processes if p.is_running())
            except (psutil.Error, OSError):
                continue
            if rss > self.limit:
                for p in processes:
                    try:
                        p.kill()
                    except psutil.Error:
                        pass


def _kill_user(uid, timeout=5.0):
    """SIGKILL every process of ``uid`` (what a kernel without a cgroup left running), again until
    none is left (a process may fork while it is being killed), for at most ``timeout`` seconds."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        found = []
        for process in psutil.process_iter(["uids"]):
            try:
                if process.info["uids"] and process.info["uids"].real == uid:
                    process.kill()
                    found.append(process)
            except psutil.Error:
                pass
        if not found or time.monotonic() > deadline:
            return
        psutil.wait_procs(found, timeout=0.2)


def _safe_pgid(pid):
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def trusted_modules(nb):
    """Modules the locked and test cells of ``nb`` (an assignment's source) import, sorted, and the
    modules of the course whose experiments their checks run (a check module's ``JUDGE_MODULE``
    with ``EXPERIMENTS``, autograder.experiments).

    The grading kernel imports them before any cell runs and restores them before each test.
    """
    import ast
    import importlib

    names = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not (meta.get("locked") or meta.get("grade")):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")
    for topic in {n.split(".")[2] for n in names if n.count(".") == 2 and n.startswith(("autograder.checks.",
                                                                                       "rnn_course.checks."))}:
        try:  # the visible tests of a topic replay its check module's judges
            judges = getattr(importlib.import_module(f"autograder.checks.{topic}"), "JUDGE_MODULE", None)
        except Exception:  # noqa: BLE001 (a topic without a check module of the grader's)
            continue
        if judges is not None and hasattr(judges, "EXPERIMENTS"):
            names.add(judges.__name__)
    return sorted(names)
