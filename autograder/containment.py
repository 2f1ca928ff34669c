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
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

KERNEL_NAME = "rnn-grader"
# this Python, without ".." (a path through a folder the sandbox does not show would not resolve)
PYTHON = os.path.normpath(os.path.abspath(sys.executable))
SANDBOX_USER = "nobody"
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
    memory_mb: int = 4096  # address space: torch alone maps about 1.5 GB
    file_mb: int = 64
    processes: int = 128  # counts threads; shared by all kernels of the sandbox user

    def argv(self):
        return ["--cpu", str(self.cpu_seconds), "--memory", str(self.memory_mb),
                "--file", str(self.file_mb), "--processes", str(self.processes)]


def _sandbox_uid():
    """(uid, gid) the kernel runs as: nobody when the grader is root, else the grader's own."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    user = pwd.getpwnam(SANDBOX_USER)
    return user.pw_uid, user.pw_gid


def _drop_privileges():
    """Inside the sandbox, as root: become the sandbox user for good (no setuid way back)."""
    if os.geteuid() == 0:
        uid, gid = _sandbox_uid()
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


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


def sandbox_argv(kernel_argv, workdir, private_dir, readable=()):
    """The bubblewrap command that runs ``kernel_argv`` with only ``workdir`` and ``private_dir`` writable."""
    env = {"HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython"}
    readable = [*_readable_paths(), *readable]
    # bubblewrap copies the mode of a mount point's parents (/root is 0700): open them to the sandbox user
    parents = sorted({os.path.dirname(p[:i]) for p in [*readable, private_dir, workdir]
                      for i in range(1, len(p) + 1) if p[i:i + 1] in ("/", "")} - {"", "/", "/tmp"})
    return [
        shutil.which("bwrap"), *_namespaces(), "--die-with-parent",
        *_bind_args(SYSTEM_DIRS, "--ro-bind-try"),
        "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
        *[arg for d in parents for arg in ("--perms", "0755", "--dir", d)],
        *_bind_args(readable, "--ro-bind"),
        "--bind", private_dir, private_dir, "--bind", workdir, workdir, "--chdir", workdir,
        *[arg for k, v in env.items() for arg in ("--setenv", k, v)],
        "--unsetenv", "JPY_PARENT_PID",  # its pid means nothing in the sandbox; --die-with-parent instead
        "--", PYTHON, "-I", "-m", "autograder.containment", "--inside", *kernel_argv,
    ]


def _set_limits(cpu_seconds, memory_mb, file_mb, processes):
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mb, memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * mb, file_mb * mb))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG, no kill


def _private_connection_file(connection_file, scratch):
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
    uid, gid = _sandbox_uid()
    for path in (private, new_file):
        os.chown(path, uid, gid)
    return private, new_file


def launch(argv=None):
    """Entry point of the kernelspec: apply limits, exec the kernel (in the sandbox if asked).

    In the sandbox the launcher runs a second time (``--inside KERNEL...``) to drop root.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--inside"]:
        _drop_privileges()
        os.execv(argv[1], argv[1:])
    parser = argparse.ArgumentParser(prog="python -m autograder.containment",
                                     description="Start a Jupyter kernel under limits, in a sandbox where possible.")
    parser.add_argument("--cpu", type=int, required=True, help="CPU seconds for the whole kernel")
    parser.add_argument("--memory", type=int, required=True, help="address space, MB")
    parser.add_argument("--file", type=int, required=True, help="largest file the kernel may write, MB")
    parser.add_argument("--processes", type=int, required=True, help="processes and threads of the sandbox user")
    parser.add_argument("--sandbox", choices=("on", "off"), required=True)
    parser.add_argument("--scratch", required=True, help="directory for the kernel's private files")
    parser.add_argument("--readable", action="append", default=[], help="extra read-only path in the sandbox")
    parser.add_argument("kernel", nargs=argparse.REMAINDER, help="-- kernel command with -f CONNECTION_FILE")
    args = parser.parse_args(argv)
    kernel = args.kernel[1:] if args.kernel[:1] == ["--"] else args.kernel
    at = kernel.index("-f") + 1
    private, kernel[at] = _private_connection_file(kernel[at], args.scratch)
    workdir = os.getcwd()
    if os.geteuid() == 0:
        os.chown(workdir, *_sandbox_uid())  # the grader's own copy of the notebook's folder
    for name in [n for n in os.environ if not n.startswith(PASSED_ENV)]:
        del os.environ[name]  # the grader's secrets (database passwords, tokens) stay with the grader
    os.environ.update(KERNEL_ENV)
    log = os.open(os.path.join(private, "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # what the kernel writes to its own fds stays out of the grader's terminal
    os.dup2(log, 2)
    _set_limits(args.cpu, args.memory, args.file, args.processes)
    if args.sandbox == "on":
        kernel = sandbox_argv(kernel, workdir, private, args.readable)
    os.execvp(kernel[0], kernel)


def install_kernelspec(directory, scratch, limits=Limits(), sandbox=True, readable=()):
    """Write ``directory/kernels/rnn-grader/kernel.json`` running the current Python's ipykernel via :func:`launch`."""
    launcher = [PYTHON, "-I", "-m", "autograder.containment", *limits.argv(),
                "--sandbox", "on" if sandbox else "off", "--scratch", scratch,
                *[arg for p in readable for arg in ("--readable", p)]]
    spec = {
        "argv": [*launcher, "--", PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
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
    at = steps.index(Execute) + 1
    names = [f"{step.__module__}.{step.__name__}" for step in steps]
    return names[:at] + ["autograder.outputcap.CapOutput"] + names[at:]


def for_this_process(config):
    """The kernel config for a worker process of the run: its own ipc socket prefix.

    jupyter_client picks socket names that do not exist yet; two processes picking at once
    would choose the same ones.
    """
    manager = {**config["KernelManager"], "ip": f"{config['KernelManager']['ip']}-{os.getpid()}"}
    return {**config, "KernelManager": manager}


RUN_PREFIX = "rnn-grader-kernel-"


def _remove_stale_runs():
    """Remove the kernelspec folders of grading runs whose process is gone (killed, never cleaned)."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{RUN_PREFIX}*-*")):
        pid = os.path.basename(path)[len(RUN_PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


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
    limit_text = (f"limits: {limits.cpu_seconds} s CPU, {limits.memory_mb} MB memory, "
                  f"{limits.file_mb} MB files, {limits.processes} processes")
    message = f"{why}; {limit_text}" if use else (
        f"sandbox OFF ({why if sandbox != 'off' else 'turned off'}): student code can read every "
        f"file the sandbox user can and use the network; {limit_text}")
    _remove_stale_runs()
    root = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-")
    scratch = os.path.join(root, "scratch")
    os.mkdir(scratch)
    os.chmod(root, 0o711)  # the sandbox user reaches its private directory, cannot list others
    os.chmod(scratch, 0o711)
    install_kernelspec(root, scratch, limits, use, readable)
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (root, saved) if p)
    config = {
        "Execute": {"kernel_name": KERNEL_NAME, **({"timeout": cell_timeout} if cell_timeout else {})},
        # a socket prefix of this run's own (worker processes: for_this_process)
        "KernelManager": {"transport": "ipc", "ip": os.path.join(root, "ipc")},
        "Autograde": {"autograde_preprocessors": _autograde_preprocessors()},
    }
    try:
        yield config, message
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    launch()
