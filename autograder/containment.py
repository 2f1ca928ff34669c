"""Run a student's notebook kernel under resource limits and, where the machine allows, in a sandbox.

The grader never starts a student kernel directly. :func:`grading_kernel` installs a kernelspec
whose command is this module's launcher; nbgrader's ``Execute`` preprocessor is told to use that
kernel whatever the submitted notebook's metadata says. The launcher, before it becomes the kernel:

1. keeps only an allow-list of environment variables (the grader's secrets stay behind) and
   sends what the kernel writes to its own stdout/stderr to a log, not the grader's terminal;
2. sets resource limits on the kernel process: CPU seconds, address space (a huge allocation
   raises ``MemoryError`` instead of swapping the machine to death), size of any file written
   (writes past it raise ``OSError``), number of processes;
3. where bubblewrap works (:func:`sandbox_status`), re-executes the kernel inside it: no network,
   a private /tmp, read-only system and Python directories, and nothing else of the file system
   except the notebook's working directory (writable). The course directory (sources with
   solutions, gradebook, other students' submissions) and the repository's ``solutions/`` are
   simply absent. When the grader is root, the kernel inside drops to ``nobody`` (Linux does
   not apply the process limit to root, and root could undo the sandbox's mounts). Without the
   sandbox the kernel runs as the grader's user, under the limits only.

Without a network the kernel cannot reach the grader over TCP, so kernels talk over unix sockets
(jupyter_client's ``ipc`` transport) in a private directory bound into the sandbox. The launcher
keeps the socket paths that the grader expects by leaving symbolic links there. The same
config also puts :class:`autograder.outputcap.CapOutput` into nbgrader's autograde steps.
"""

import argparse
import contextlib
import ctypes
import functools
import glob
import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from . import cgroups

KERNEL_NAME = "rnn-grader"
# this Python, without ".." (a path through a folder the sandbox does not show would not resolve)
PYTHON = os.path.normpath(os.path.abspath(sys.executable))
PR_SET_NO_NEW_PRIVS = 38
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
PASSED_ENV = ("PATH", "LANG", "TZ", "PYTHONPATH", "PYTHONHASHSEED", "JPY_PARENT_PID", "LC_", "AUTOGRADER_")
KERNEL_ENV = {  # one BLAS thread per kernel: parallel graders share the cores
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits on one student kernel (the whole notebook, not one cell)."""

    cpu_seconds: int = 300
    memory_mb: int = 4096  # address space of each process (torch alone maps about 1.5 GB), and
    #                        the resident memory of the kernel with all its children (cgroup/watchdog)
    file_mb: int = 64
    processes: int = 128  # processes and threads of this kernel with its children
    tmp_mb: int = 256  # the sandbox's private /tmp
    workdir_mb: int = 256  # the kernel's working directory

    def argv(self):
        return ["--cpu", str(self.cpu_seconds), "--memory", str(self.memory_mb),
                "--file", str(self.file_mb), "--processes", str(self.processes),
                "--tmp", str(self.tmp_mb), "--workdir", str(self.workdir_mb)]


UID_BASE = 1_500_000_000  # kernel user ids: UID_BASE + a number of the grading process (no passwd entry)
UID_VARIABLE = "AUTOGRADER_KERNEL_UID"  # set by autograder.execution: the uid of the next kernel
CGROUP_VARIABLE = "AUTOGRADER_CGROUP"  # set by autograder.execution: the cgroup of the next kernel
HIDE_VARIABLE = "AUTOGRADER_HIDE_REFERENCE"  # "1": the sandbox shows neither rnn_ref nor autograder/checks
PR_SET_PDEATHSIG = 1


def kernel_uid(slot):
    """The user id of the kernels of grading process ``slot`` (its pid): one user per kernel."""
    return UID_BASE + slot % 100_000_000


def _sandbox_uid():
    """(uid, gid) the kernel runs as: its own user when the grader is root, else the grader's own.

    A user of its own per kernel makes the process limit (RLIMIT_NPROC counts per user) and the
    memory watchdog count this kernel alone, and keeps kernels out of each other's files.
    """
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    uid = int(os.environ.get(UID_VARIABLE) or kernel_uid(os.getpid()))
    return uid, uid


def _drop_privileges(uid=None, gid=None):
    """As root: become the kernel's user for good (no setuid way back); then no new privileges."""
    if os.geteuid() == 0:
        if uid is None:
            uid, gid = _sandbox_uid()
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # a new uid cleared it


def _namespaces():
    """Root creates the namespaces itself (it drops to nobody inside); other users need a user namespace."""
    if os.geteuid() == 0:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    return ["--unshare-all"]


@functools.lru_cache(maxsize=None)
def sandbox_status():
    """Return (available, message): whether bubblewrap can run a kernel on this machine, and why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bubblewrap is not installed (Debian package 'bubblewrap')"
    probe = [bwrap, *_namespaces(), "--die-with-parent",
             *_bind_args(SYSTEM_DIRS, "--ro-bind-try"), "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        return False, f"bubblewrap failed to start: {err}"
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        return False, f"bubblewrap cannot create a sandbox here ({reason}); user namespaces may be disabled"
    return True, "bubblewrap sandbox: no network, only the working directory and Python are visible"


def _bind_args(paths, option):
    return [arg for p in paths for arg in (option, p, p)]


def _readable_paths():
    """Directories the kernel needs: Python, its packages, and the course's packages (not the repo)."""
    paths = {os.path.normpath(p) for p in (sys.prefix, sys.base_prefix)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    for name in ("rnn_ref", "autograder", "rnn_course"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            paths.update(os.path.realpath(p) for p in spec.submodule_search_locations)
    paths = {p for p in paths if p and not any(p.startswith(s + "/") for s in SYSTEM_DIRS)}
    return sorted(p for p in paths if not any(p.startswith(q + "/") for q in paths))


def _hidden_paths():
    """Folders an empty tmpfs covers in the sandbox when the tests run in the grader
    (autograder.channel): the reference implementation and the hidden tests' check modules."""
    paths = []
    for name in ("rnn_ref", "autograder.checks"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            paths += [os.path.realpath(p) for p in spec.submodule_search_locations]
    return sorted(set(paths))


def _size_args(mb):
    """``--size`` before a ``--tmpfs`` caps it (bubblewrap 0.5 and later; older ones: no cap)."""
    return ["--size", str(mb * 2**20)] if _bwrap_version() >= (0, 5) else []


@functools.lru_cache(maxsize=None)
def _bwrap_version():
    try:
        out = subprocess.run([shutil.which("bwrap") or "bwrap", "--version"], capture_output=True,
                             text=True, timeout=10).stdout
        return tuple(int(x) for x in out.split()[-1].split(".")[:2])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return (0, 0)


def sandbox_argv(kernel_argv, workdir, private_dir, readable=(), tmp_mb=256, workdir_mb=256, uid=None):
    """The bubblewrap command that runs ``kernel_argv`` with only ``workdir`` and ``private_dir`` writable.

    /tmp and ``workdir`` are size-capped tmpfs mounts: what the kernel writes there lives in the
    kernel's memory (counted by its cgroup) and vanishes with the sandbox. Files the grader put in
    ``workdir`` beforehand (an assignment's data) appear in it read-only.
    """
    env = {"HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython",
           "USER": "student", "LOGNAME": "student"}
    readable = [*_readable_paths(), *readable]
    # bubblewrap copies the mode of a mount point's parents (/root is 0700): open them to the sandbox user
    parents = sorted({os.path.dirname(p[:i]) for p in [*readable, private_dir, workdir]
                      for i in range(1, len(p) + 1) if p[i:i + 1] in ("/", "")} - {"", "/", "/tmp"})
    return [
        shutil.which("bwrap"), *_namespaces(), "--die-with-parent",
        *_bind_args(SYSTEM_DIRS, "--ro-bind-try"),
        "--proc", "/proc", "--dev", "/dev", "--perms", "1777", *_size_args(tmp_mb), "--tmpfs", "/tmp",
        *[arg for d in parents for arg in ("--perms", "0755", "--dir", d)],
        *_bind_args(readable, "--ro-bind"),
        *[arg for d in (_hidden_paths() if os.environ.get(HIDE_VARIABLE) == "1" else ())
          for arg in ("--perms", "0555", *_size_args(1), "--tmpfs", d)],
        "--bind", private_dir, private_dir,
        "--perms", "1777", *_size_args(workdir_mb), "--tmpfs", workdir,
        *[arg for name in _data_files(workdir) for arg in ("--ro-bind", os.path.join(workdir, name),
                                                           os.path.join(workdir, name))],
        "--chdir", workdir,
        *[arg for k, v in env.items() for arg in ("--setenv", k, v)],
        "--unsetenv", "JPY_PARENT_PID",  # its pid means nothing in the sandbox; --die-with-parent instead
        "--", PYTHON, "-I", "-m", "autograder.containment", "--inside",
        *([str(uid[0]), str(uid[1])] if uid else ["-", "-"]), *kernel_argv,
    ]


def python_reachable_by_others():
    """Whether a user other than root can run this Python and read its packages (every folder on
    the way open to others); if not, a kernel without the sandbox has to stay root."""
    import stat

    for path in {os.path.realpath(PYTHON), *(_readable_paths())}:
        parts = path.split(os.sep)
        for i in range(2, len(parts) + 1):
            try:
                mode = os.stat(os.sep.join(parts[:i]) or os.sep).st_mode
            except OSError:
                return False
            if not mode & stat.S_IXOTH:
                return False
    return True


def _data_files(workdir):
    """Regular files the grader put in the working directory (never a link), by name."""
    try:
        with os.scandir(workdir) as it:
            return sorted(e.name for e in it if e.is_file(follow_symlinks=False))
    except OSError:
        return []


def _set_limits(cpu_seconds, memory_mb, file_mb, processes):
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mb, memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * mb, file_mb * mb))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))  # per user: this kernel's own when root
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG, no kill


def _private_connection_file(connection_file, scratch, owner):
    """Copy the connection file into a fresh directory the kernel owns; for ipc, move its sockets there.

    The grader connects to ``{ip}-{port}``; the kernel binds ``{private}/ipc-{port}``; a symbolic
    link from the first to the second joins them. Returns (private_dir, new_connection_file).
    """
    with open(connection_file) as f:
        info = json.load(f)
    private = tempfile.mkdtemp(prefix="kernel-", dir=scratch)
    if info.get("transport") == "ipc":
        old_ip, info["ip"] = info["ip"], os.path.join(private, "ipc")
        if not os.path.isabs(old_ip):
            raise ValueError(f"ipc socket prefix {old_ip!r} must be an absolute path")
        for key in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
            link = f"{old_ip}-{info[key]}"
            with contextlib.suppress(FileNotFoundError):
                os.remove(link)
            os.symlink(f"{info['ip']}-{info[key]}", link)
    new_file = os.path.join(private, "connection.json")
    with open(new_file, "w") as f:
        json.dump(info, f)
    for path in (private, new_file):
        os.chown(path, *owner)
    return private, new_file


def parser():
    """The launcher's command line (autograder.zygote reads the same options from the kernelspec)."""
    parser_ = argparse.ArgumentParser(prog="python -m autograder.containment",
                                     description="Start a Jupyter kernel under limits, in a sandbox where possible.")
    parser_.add_argument("--cpu", type=int, required=True, help="CPU seconds for the whole kernel")
    parser_.add_argument("--memory", type=int, required=True, help="address space, MB")
    parser_.add_argument("--file", type=int, required=True, help="largest file the kernel may write, MB")
    parser_.add_argument("--processes", type=int, required=True, help="processes and threads of the kernel")
    parser_.add_argument("--tmp", type=int, default=256, help="size of the sandbox's /tmp, MB")
    parser_.add_argument("--workdir", type=int, default=256, help="size of the working directory, MB")
    parser_.add_argument("--cgroups", default="", help="parent cgroup of this run's kernels (cgroup v1)")
    parser_.add_argument("--sandbox", choices=("on", "off"), required=True)
    parser_.add_argument("--scratch", required=True, help="directory for the kernel's private files")
    parser_.add_argument("--readable", action="append", default=[], help="extra read-only path in the sandbox")
    parser_.add_argument("kernel", nargs=argparse.REMAINDER, help="-- kernel command with -f CONNECTION_FILE")
    return parser_


def launch(argv=None):
    """Entry point of the kernelspec: apply limits, exec the kernel (in the sandbox if asked).

    In the sandbox the launcher runs a second time (``--inside KERNEL...``) to drop root.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--inside"]:
        uid, gid = (None, None) if argv[1] == "-" else (int(argv[1]), int(argv[2]))
        _drop_privileges(uid, gid)
        os.execv(argv[3], argv[3:])
    args = parser().parse_args(argv)
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the grader gone, the kernel goes too
    uid = _sandbox_uid()
    if args.cgroups and os.geteuid() == 0:
        cgroups.join(args.cgroups, os.environ.get(CGROUP_VARIABLE) or str(os.getpid()),
                     args.memory, args.processes)
    at = kernel.index("-f") + 1
    private, kernel[at] = _private_connection_file(kernel[at], args.scratch, uid)
    workdir = os.getcwd()
    if os.geteuid() == 0 and args.sandbox == "off":
        os.chown(workdir, *uid)  # a fresh folder of autograder.execution's (with the sandbox: a tmpfs)
    for name in [n for n in os.environ if not n.startswith(PASSED_ENV) or n in (UID_VARIABLE, CGROUP_VARIABLE)]:
        del os.environ[name]  # the grader's secrets (database passwords, tokens) stay with the grader
    os.environ.update(KERNEL_ENV)
    log = os.open(os.path.join(private, "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # what the kernel writes to its own fds stays out of the grader's terminal
    os.dup2(log, 2)
    _set_limits(args.cpu, args.memory, args.file, args.processes)
    if args.sandbox == "on":
        kernel = sandbox_argv(kernel, workdir, private, args.readable, args.tmp, args.workdir, uid)
    elif os.geteuid() == 0 and python_reachable_by_others():
        os.environ.update(HOME=private, IPYTHONDIR=os.path.join(private, "ipython"),
                          MPLCONFIGDIR=os.path.join(private, "matplotlib"), USER="student", LOGNAME="student")
        _drop_privileges(*uid)  # root without the sandbox: the kernel still runs as a user of its own
    os.execvp(kernel[0], kernel)


def install_kernelspec(directory, scratch, limits=Limits(), sandbox=True, readable=(), cgroup_parent=""):
    """Write ``directory/kernels/rnn-grader/kernel.json``: the grading kernel (autograder.kernel) via :func:`launch`."""
    launcher = [PYTHON, "-I", "-m", "autograder.containment", *limits.argv(),
                "--sandbox", "on" if sandbox else "off", "--scratch", scratch,
                *(["--cgroups", cgroup_parent] if cgroup_parent else []),
                *[arg for p in readable for arg in ("--readable", p)]]
    spec = {
        "argv": [*launcher, "--", PYTHON, "-m", "autograder.kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (graded, contained)",
        "language": "python",
        "metadata": {"debugger": False},
        # a SIGINT to the process group would kill bubblewrap: ask the kernel to interrupt itself
        "interrupt_mode": "message",
    }
    kernel_dir = os.path.join(directory, "kernels", KERNEL_NAME)
    os.makedirs(kernel_dir, exist_ok=True)
    with open(os.path.join(kernel_dir, "kernel.json"), "w") as f:
        json.dump(spec, f, indent=1)
    return kernel_dir


def _autograde_preprocessors():
    """nbgrader's autograde pipeline (as import paths) with CapOutput right after the notebook has run."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    at = steps.index(Execute)
    names = [f"{step.__module__}.{step.__name__}" for step in steps]
    return names[:at] + ["autograder.execution.ContainedExecute", "autograder.outputcap.CapOutput"] + names[at + 1:]


def for_this_process(config):
    """The kernel config for a worker process of the run: its own ipc socket prefix.

    jupyter_client picks socket names that do not exist yet; two processes picking at once
    would choose the same ones.
    """
    manager = {**config["KernelManager"], "ip": f"{config['KernelManager']['ip']}-{os.getpid()}"}
    return {**config, "KernelManager": manager}


RUN_PREFIX = "rnn-grader-kernel-"


def _remove_stale_runs():
    """Clear what grading runs whose process is gone left behind (killed, never cleaned).

    Their kernels and everything the kernels started (by cgroup, and by the run's folder in a
    process's command line), their cgroups and their kernelspec folders.
    """
    for parent in cgroups.stale_parents(RUN_PREFIX, _alive):
        cgroups.remove_parent(parent)
    stale = []
    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{RUN_PREFIX}*-*")):
        pid = os.path.basename(path)[len(RUN_PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            stale.append(path)
    if stale:
        kill_processes_mentioning(stale)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


def kill_processes_mentioning(paths):
    """SIGKILL every process whose command line names one of ``paths`` (a run's kernels)."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        try:
            line = " ".join(process.info["cmdline"] or [])
            if process.pid != os.getpid() and any(p in line for p in paths):
                process.kill()
        except psutil.Error:
            pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def grading_kernel(limits=Limits(), sandbox="auto", cell_timeout=None, readable=()):
    """Install the contained kernel for the duration of a grading run.

    sandbox: "auto" (use bubblewrap where it works), "on" (fail if it does not), "off".
    Yields (config, message): the nbgrader/jupyter config dict to merge (forces the kernel and the
    ipc transport; sets the per-cell timeout if ``cell_timeout`` is given) and a one-line statement of the containment in use.
    JUPYTER_PATH points at the kernelspec while the context is open (child processes inherit it).
    """
    available, why = sandbox_status()
    if sandbox == "on" and not available:
        raise RuntimeError(f"sandbox requested but not available: {why}")
    use = available and sandbox != "off"
    grouped, no_groups = cgroups.available()
    limit_text = (f"limits: {limits.cpu_seconds} s CPU, {limits.memory_mb} MB memory, "
                  f"{limits.file_mb} MB files, {limits.processes} processes"
                  + (" (a cgroup per kernel)" if grouped else f" (no cgroups: {no_groups}; "
                     f"a memory watchdog per kernel)"))
    user = ("its own user" if os.geteuid() != 0 or python_reachable_by_others() else
            "ROOT (this Python is in a folder other users cannot enter)") if os.geteuid() == 0 else "the grader's user"
    message = f"{why}; {limit_text}" if use else (
        f"sandbox OFF ({why if sandbox != 'off' else 'turned off'}): the kernel runs as {user}; student "
        f"code can read every file that user can and use the network; {limit_text}")
    _remove_stale_runs()
    root = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-")
    scratch = os.path.join(root, "scratch")
    os.mkdir(scratch)
    os.chmod(root, 0o711)  # a kernel's user reaches its private directory, cannot list others
    os.chmod(scratch, 0o711)
    parent = cgroups.make_parent(os.path.basename(root)) if grouped else ""
    install_kernelspec(root, scratch, limits, use, readable, parent)
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (root, saved) if p)
    config = {
        "Execute": {"kernel_name": KERNEL_NAME, **({"timeout": cell_timeout} if cell_timeout else {})},
        # a socket prefix of this run's own (worker processes: for_this_process)
        "KernelManager": {"transport": "ipc", "ip": os.path.join(root, "ipc")},
        "Autograde": {"autograde_preprocessors": _autograde_preprocessors()},
        "ContainedExecute": {"scratch": scratch, "cgroup_parent": parent, "memory_mb": limits.memory_mb,
                             # kernels forked from a warm zygote where it can run (autograder.zygote)
                             "kernel_manager_class": "autograder.zygote.ForkedKernelManager",
                             **({"timeout": cell_timeout} if cell_timeout else {})},
    }
    try:
        yield config, message
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
        if "autograder.zygote" in sys.modules:  # this process's zygotes end with the run
            sys.modules["autograder.zygote"].close_all()
        if parent:
            cgroups.remove_parent(parent)
        kill_processes_mentioning([root])
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    launch()
