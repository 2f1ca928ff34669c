"""Kernels forked from a warm parent: the same sandbox and limits, without starting Python each time.

Starting a grading kernel the classic way (autograder.containment's launcher) costs three Python
start-ups, bubblewrap, and the imports of ipykernel, numpy and the checks: most of a second per
submission, before any of the student's code runs. Here each grading process starts one
**zygote** per run: a Python process inside bubblewrap (the same namespaces, read-only system
and Python folders, no network; rnn_ref and the checks covered unless the assignment's tests run
in the kernel) that has imported ipykernel, numpy and what the notebook's locked and test cells
import (what the sandbox shows of it) and then never runs anything else. For every notebook it forks a child, which

1. joins a cgroup of its own (memory and pids limits, autograder.cgroups) while still root;
2. makes its own mount and process namespaces: a fresh size-capped tmpfs on ``/tmp``, a tmpfs
   over the run's scratch folder (the other kernels' folders disappear) with only its own
   private folder (its sockets) and a fresh size-capped tmpfs working directory put back, the
   assignment's data files bound read-only into it, the cgroup folders unmounted, and a
   ``/proc`` of its own; the kernel is process 2 of its namespace, as under bubblewrap;
3. keeps only the allow-listed environment, sends its stdout/stderr to a log, sets the resource
   limits (CPU seconds, address space, file size, processes), switches to the kernel's user
   for good (no capabilities left, ``no_new_privs``, killed with its parent);
4. becomes the grading kernel (autograder.kernel) on the connection file it was given.

The child shares nothing with the next one: each is forked from the zygote, which never ran a
cell, so every submission starts from the same fresh interpreter state (whatever a student's
code changes lives in that child's copy of memory, gone with it). The kernel is a Jupyter
kernel like the classic one: nbclient reaches it through :class:`ForkedKernelManager` and talks
to it with the same messages.

The grader talks to its zygote over a pipe, one JSON line per request (start a kernel, poll
it, kill it). :func:`usable` says when the grader uses this path: as root, with bubblewrap
working and the sandbox asked for (without the sandbox, or as another user, kernels start the
classic way).
"""

import asyncio
import ctypes
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from traitlets import DottedObjectName, Type

from . import cgroups, containment

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
MNT_DETACH = 2
CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE",
                "CAP_FOWNER", "CAP_SYS_RESOURCE", "CAP_KILL")


def usable(sandbox):
    """Whether kernels of a run with this sandbox setting are forked from a zygote."""
    return sandbox and os.geteuid() == 0 and os.environ.get("AUTOGRADER_ZYGOTE", "1") != "0"


# --- the grader's side ---------------------------------------------------------------------------

class Zygote:
    """A running zygote of this grading process, and the socket to it.

    A request is one JSON line; so is its answer. The answer to ``start`` carries a file
    descriptor (SCM_RIGHTS): the read end of a pipe whose only write end the kernel's process
    holds, so that the grader sees a kernel end without asking the zygote (:class:`_ForkedProcess`).
    """

    def __init__(self, options):
        self.options = options
        self.lock = threading.Lock()
        env = {k: v for k, v in os.environ.items() if k.startswith(containment.PASSED_ENV)}
        env.update(containment.KERNEL_ENV, HOME="/tmp")
        argv = [containment.PYTHON, "-I", "-m", "autograder.zygote", json.dumps(options)]
        argv = zygote_sandbox_argv(argv, options)
        log = _log()
        self.socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(argv, stdin=theirs, stdout=theirs,
                                            stderr=log, env=env, close_fds=True,
                                            preexec_fn=_die_with_parent)
        finally:
            theirs.close()
            if log is not subprocess.DEVNULL:
                log.close()
        self._buffer = b""
        try:
            ready, _ = self._line()
        except OSError:
            ready = b""
        if not ready:
            self.close()
            raise RuntimeError("the kernel zygote did not start (bubblewrap or an import failed)")

    def _line(self):
        """(one line of the zygote's, the descriptors that came with it); b"" when it has ended."""
        fds = []
        while b"\n" not in self._buffer:
            data, got, _, _ = socket.recv_fds(self.socket, 65536, 4)
            fds += got
            if not data:
                for fd in fds:
                    os.close(fd)
                return b"", []
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line + b"\n", fds

    def ask(self, **request):
        """Send one request; its answer (a dict; "fds": descriptors that came with it, which the
        caller closes). RuntimeError when the zygote is gone."""
        with self.lock:
            if self.process.poll() is not None:
                raise RuntimeError("the kernel zygote has ended")
            try:
                self.socket.sendall(json.dumps(request).encode() + b"\n")
                line, fds = self._line()
            except OSError:
                line, fds = b"", []
        if not line:
            raise RuntimeError("the kernel zygote has ended")
        answer = json.loads(line)
        if "error" in answer:
            for fd in fds:
                os.close(fd)
            raise RuntimeError(f"the kernel zygote could not start a kernel: {answer['error']}")
        if fds:
            answer["fds"] = fds
        return answer

    def alive(self):
        return self.process.poll() is None

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        try:
            self.socket.close()
        except OSError:
            pass


_zygotes = {}  # options (JSON) -> Zygote, of this process
_lock = threading.Lock()
_forked = [0]


def forked_kernels():
    """How many kernels this process has had forked by its zygotes (all runs)."""
    return _forked[0]


_failed = set()  # options (JSON) whose zygote could not start: their kernels use the launcher


def _key(options):
    return json.dumps(options, sort_keys=True)


def zygote_for(options):
    """This process's zygote for ``options`` (started on first use, restarted if it died)."""
    key = _key(options)
    with _lock:
        zygote = _zygotes.get(key)
        if zygote is None or not zygote.alive():
            if zygote is not None:
                zygote.close()
            zygote = _zygotes[key] = Zygote(options)
        return zygote


def prestart():
    """Start this process's zygote for the run's grading kernel now (a no-op where kernels are
    not forked): a worker does it while the course directory is being made."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv = KernelSpecManager().get_kernel_spec(containment.KERNEL_NAME).argv
        options = _launcher_options(argv)
    except (NoSuchKernel, ValueError, SystemExit):
        return
    if usable(options["sandbox"] == "on"):
        try:
            zygote_for(options)
        except (RuntimeError, OSError):
            pass  # the first kernel start tries again, and reports it


def close_all():
    """End this process's zygotes (and with them every kernel they forked)."""
    with _lock:
        for spare in _spares.values():
            spare.process.close()
        _spares.clear()
        for zygote in _zygotes.values():
            zygote.close()
        _zygotes.clear()


def kill_kernels():
    """Kill every kernel this process's zygotes are running (a submission's time is up)."""
    for zygote in list(_zygotes.values()):
        try:
            zygote.ask(op="killall")
        except (RuntimeError, OSError, ValueError):
            zygote.close()


def _log():
    """Where the zygote's stderr goes: $AUTOGRADER_ZYGOTE_LOG (to debug it), else nowhere."""
    path = os.environ.get("AUTOGRADER_ZYGOTE_LOG")
    return open(path, "ab") if path else subprocess.DEVNULL


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(containment.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _readable(options):
    """The folders a kernel reads (Python, its packages, the course's packages), as the launcher's."""
    return [*containment._readable_paths(), *options["readable"]]


def zygote_sandbox_argv(argv, options):
    """bubblewrap around the zygote: as the classic sandbox (rnn_ref and the checks covered when
    ``options["hide"]``, so the zygote never imports them), plus the run's scratch folder and
    cgroups (each child hides them again) and the capabilities a child needs to set itself up."""
    readable = _readable(options)
    scratch = options["scratch"]
    cgroup_dirs = [p for p in options["cgroups"].split(",") if p]
    parents = sorted({os.path.dirname(p[:i]) for p in [*readable, scratch]
                      for i in range(1, len(p) + 1) if p[i:i + 1] in ("/", "")} - {"", "/", "/tmp"})
    return [
        containment.shutil.which("bwrap"), *containment._namespaces(), "--die-with-parent",
        *[arg for cap in CAPABILITIES for arg in ("--cap-add", cap)],
        *containment._bind_args(containment.SYSTEM_DIRS, "--ro-bind-try"),
        "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
        *[arg for d in parents for arg in ("--perms", "0755", "--dir", d)],
        *containment._bind_args(readable, "--ro-bind"),
        *[arg for d in (containment._hidden_paths() if options.get("hide") else ())
          for arg in ("--perms", "0555", *containment._size_args(1), "--tmpfs", d)],
        "--bind", scratch, scratch,
        *containment._bind_args(cgroup_dirs, "--bind"),
        "--chdir", "/", "--", *argv,
    ]


class _ForkedProcess:
    """What jupyter_client's provisioner needs of a Popen, for a kernel forked by a zygote.

    ``ended``: the read end of the kernel's pipe (see :class:`Zygote`): while nothing can be read
    from it, the kernel runs, and :meth:`poll` answers without a round trip to the zygote (the
    grader asks whether the kernel lives before every wait for a message).
    """

    stdin = stdout = stderr = None

    def __init__(self, zygote, pid, ended=None, uid=None):
        self.zygote, self.pid, self.returncode = zygote, pid, None
        self.ended, self.uid = ended, uid
        self._poller = None
        if ended is not None:
            self._poller = select.poll()
            self._poller.register(ended, select.POLLIN)

    def _running(self):
        """True while the kernel's pipe is open (None: no pipe, ask the zygote)."""
        if self._poller is None:
            return None
        return not self._poller.poll(0)

    def poll(self):
        if self.returncode is None and not self._running():
            try:
                self.returncode = self.zygote.ask(op="poll", pid=self.pid)["status"]
            except (RuntimeError, OSError, ValueError):
                self.returncode = -signal.SIGKILL  # the zygote is gone, and its kernels with it
        if self.returncode is not None:
            self.close()
        return self.returncode

    def close(self):
        if self.ended is not None:
            os.close(self.ended)
            self.ended, self._poller = None, None

    def __del__(self):
        try:
            self.close()
        except OSError:
            pass

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("forked kernel", timeout)
            if self._poller is not None:
                self._poller.poll(10)  # returns when the kernel ends
            else:
                time.sleep(0.01)
        return self.returncode

    def send_signal(self, signum):
        if self.returncode is None:
            try:
                self.zygote.ask(op="signal", pid=self.pid, signal=int(signum))
            except (RuntimeError, OSError, ValueError):
                pass

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def terminate(self):
        self.send_signal(signal.SIGKILL)  # the kernel's state is thrown away in any case


def _launcher_options(kernel_cmd):
    """The launcher's options (limits, scratch, cgroups...) from the kernelspec's command."""
    at = kernel_cmd.index("autograder.containment") + 1
    end = kernel_cmd.index("--", at)
    args = containment.parser().parse_args(kernel_cmd[at:end])
    return {"cpu": args.cpu, "memory": args.memory, "file": args.file, "processes": args.processes,
            "tmp": args.tmp, "workdir": args.workdir, "cgroups": args.cgroups, "scratch": args.scratch,
            "readable": args.readable, "sandbox": args.sandbox,
            "trusted": os.environ.get("AUTOGRADER_TRUSTED_MODULES", ""),
            # no kernel sees rnn_ref or the checks (every test runs in the grader, autograder.channel):
            # autograder.execution sets the variable to "1" for every run
            "hide": os.environ.get(containment.HIDE_VARIABLE, "1") == "1"}


RECONNECT_MS = 2  # how soon a client socket first tries again to reach a kernel that has not bound yet


class QuickClient(AsyncKernelClient):
    """A kernel client that is ready as soon as the kernel answers on shell and IOPub.

    jupyter_client's own waits until IOPub has been quiet for 0.2 s after the first reply; the
    notebook client reads only the messages that answer its own requests, so that wait is not
    needed. Its sockets try to reach the kernel every :data:`RECONNECT_MS` ms (ZeroMQ's default,
    0.1 s, is a tenth of a second lost on every kernel start: the client connects before the
    freshly forked kernel has bound its sockets). A reply whose IOPub status was published before
    the subscription reached the kernel (and so was never received) is asked for again soon.
    """

    def _create_connected_socket(self, channel, identity=None):
        import zmq

        self.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        self.context.setsockopt(zmq.RECONNECT_IVL_MAX, 100)  # doubling: a dead kernel costs no CPU
        return super()._create_connected_socket(channel, identity)

    async def wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else 60.0)
        while True:
            msg_id = self.kernel_info()
            got_reply = got_status = False
            step_end = time.monotonic() + 1.0
            while time.monotonic() < step_end and not (got_reply and got_status):
                if not got_reply and await self.shell_channel.msg_ready():
                    msg = await self.shell_channel.get_msg(timeout=0)
                    if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "kernel_info_reply":
                        got_reply = True
                        self._handle_kernel_info_reply(msg)
                        # the status comes right after the reply, unless it was lost: ask again
                        step_end = min(step_end, time.monotonic() + 0.02)
                    continue
                if not got_status and await self.iopub_channel.msg_ready():
                    msg = await self.iopub_channel.get_msg(timeout=0)
                    got_status = msg["parent_header"].get("msg_id") == msg_id
                    continue
                await asyncio.sleep(0.001)
            if got_reply and got_status:
                return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")


class ForkedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels the zygote forks (the kernelspec's launcher is not run).

    Where each kernel has a cgroup of its own, the next notebook's kernel is forked while this
    one's notebook runs (:class:`_Spare`): a notebook whose kernel is ready gets it at once.
    """

    client_class = DottedObjectName("autograder.zygote.QuickClient", config=True)
    client_factory = Type(klass="autograder.zygote.QuickClient", config=True)
    _spare_workdir = None  # the working directory of a spare this manager took (removed with it)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        env = dict(kw.get("env") or os.environ)
        options = {**_launcher_options(kernel_cmd), "hide": env.get(containment.HIDE_VARIABLE) == "1"}
        workdir = os.path.realpath(kw.get("cwd") or os.getcwd())
        if (not usable(options["sandbox"] == "on") or not workdir.startswith(options["scratch"] + os.sep)
                or _key(options) in _failed):
            # the zygote sees the run's scratch folder only: a working directory elsewhere (never
            # the grader's, see autograder.execution) gets a kernel started by the launcher
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        uid = (int(env.get(containment.UID_VARIABLE) or containment.kernel_uid(os.getpid())),) * 2
        request = {"op": "start", "workdir": workdir, "uid": list(uid),
                   "cgroup": env.get(containment.CGROUP_VARIABLE) or "",
                   "env": {k: v for k, v in env.items() if k.startswith(containment.PASSED_ENV)
                           and k not in (containment.UID_VARIABLE, containment.CGROUP_VARIABLE)}}
        spare = _take_spare(options, request)
        if spare is not None:
            zygote, process = spare.zygote, spare.process
            self._spare_workdir = spare.workdir
            self._use_connection(spare.info)
        else:
            for attempt in (1, 2):  # a zygote that ended is started again, once
                try:
                    zygote = zygote_for(options)
                    if "private" not in request:
                        request["private"], request["connection_file"] = containment._private_connection_file(
                            self.connection_file, options["scratch"], uid)
                    answer = zygote.ask(**request)
                    break
                except (RuntimeError, OSError):
                    if attempt == 2:
                        # no zygote here (bubblewrap refuses its capabilities, say): this run's
                        # kernels start through the launcher, with the same sandbox and limits
                        _failed.add(_key(options))
                        return await super()._async_launch_kernel(kernel_cmd, **kw)
            fds = answer.get("fds") or [None]
            for fd in fds[1:]:
                os.close(fd)
            process = _ForkedProcess(zygote, answer["pid"], fds[0], uid=uid[0])
        _forked[0] += 1
        provisioner = self.provisioner
        provisioner.process = process
        provisioner.pid, provisioner.pgid = process.pid, None
        provisioner.connection_info = self.get_connection_info()
        self._reconcile_connection_info(provisioner.connection_info)
        _prestart_spare(zygote, options, request, process.uid)

    def _use_connection(self, info):
        """Talk to a kernel that is already running, on the connection ``info`` it was started with."""
        self.transport, self.ip = info["transport"], info["ip"]
        for name in ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port"):
            setattr(self, name, info[name])
        self.session.key = info["key"].encode()
        self.cleanup_connection_file()  # the file of the ports chosen for a kernel never started

    async def _async_shutdown_kernel(self, now=False, restart=False):
        """Kill the kernel at once: its state is thrown away. No shutdown request and no interrupt
        message (jupyter_client sends one first; unsent to a dead kernel, it holds the socket
        context's 0.1 s linger)."""
        if not self.owns_kernel:
            return
        self.shutting_down = True
        self.stop_restarter()
        await self._async_kill_kernel(restart=restart)
        await self._async_cleanup_resources(restart=restart)
        if self._spare_workdir:
            shutil.rmtree(self._spare_workdir, ignore_errors=True)
            self._spare_workdir = None

    shutdown_kernel = run_sync(_async_shutdown_kernel)


# --- the next notebook's kernel, forked ahead ----------------------------------------------------

SPARE_PREFIX = "spare-"  # the cgroup of a kernel forked ahead, renamed to its notebook's when taken


class _Spare:
    """A kernel forked for the next notebook of this grading process, not yet given to one.

    Nothing reaches it before a notebook takes it: its sockets are in a private folder of its
    own user, and the zygote forked it from the same state as every other kernel. It is taken
    only by a notebook whose kernel would be started the same way: the same zygote (sandbox,
    limits, readable folders), the same environment, the same data files in the working
    directory. Its cgroup (``spare-...``) is then renamed to the one the notebook's executor
    kills when the notebook is done (autograder.execution). It runs as the other of two users of
    this grading process, so that it never shares a user (and its process limit) with the
    kernel whose notebook runs meanwhile.
    """

    def __init__(self, zygote, key, request, process, info, data):
        self.zygote, self.key, self.request, self.process = zygote, key, request, process
        self.info, self.data, self.workdir = info, data, request["workdir"]
        self.cgroup = request["cgroup"]

    def fits(self, key, request):
        return (self.key == key and self.request["env"] == request["env"] and self.zygote.alive()
                and self.data == _data_signature(request["workdir"]))

    def take(self, cgroup_parent, cgroup):
        """Rename its cgroup to ``cgroup`` once the kernel has joined it; False if it cannot be."""
        if self.process.poll() is not None:
            return False
        deadline = time.monotonic() + 2.0
        while not cgroups.joined(cgroup_parent, self.cgroup):  # the child joins first thing
            if time.monotonic() > deadline or self.process.poll() is not None:
                return False
            time.sleep(0.002)
        try:
            cgroups.rename(cgroup_parent, self.cgroup, cgroup)
        except OSError:
            return False
        self.cgroup = cgroup
        return True

    def discard(self, cgroup_parent):
        self.process.kill()
        self.process.close()
        if cgroup_parent:
            cgroups.kill(cgroup_parent, self.cgroup)
        shutil.rmtree(self.workdir, ignore_errors=True)


_spares = {}  # options (JSON) -> _Spare, of this process


def prestarting(options, request):
    """Whether kernels of this run are forked ahead: each has a cgroup of its own (renamed when
    a notebook takes it); $AUTOGRADER_PRESTART=0 turns it off."""
    return bool(options["cgroups"] and request["cgroup"]) and os.environ.get("AUTOGRADER_PRESTART", "1") != "0"


def _take_spare(options, request):
    """The spare kernel for ``request`` (its cgroup renamed to the request's), or None."""
    spare = _spares.pop(_key(options), None)
    if spare is None:
        return None
    if prestarting(options, request) and spare.fits(_key(options), request) \
            and spare.take(options["cgroups"], request["cgroup"]):
        try:
            spare.zygote.ask(op="taken", pid=spare.process.pid)
        except (RuntimeError, OSError, ValueError):
            pass
        return spare
    spare.discard(options["cgroups"])
    return None


def _prestart_spare(zygote, options, like, uid):
    """Fork a spare kernel for the next notebook (as ``like`` asked, under the other user)."""
    import uuid

    if not prestarting(options, like):
        return
    scratch = options["scratch"]
    other = _other_uid(uid)
    workdir = tempfile.mkdtemp(prefix="work-", dir=scratch)
    os.chmod(workdir, 0o711)
    try:
        for name in containment._data_files(like["workdir"]):
            shutil.copyfile(os.path.join(like["workdir"], name), os.path.join(workdir, name),
                            follow_symlinks=False)
        private = tempfile.mkdtemp(prefix="kernel-", dir=scratch)
        info = {"transport": "ipc", "ip": os.path.join(private, "ipc"), "shell_port": 1, "iopub_port": 2,
                "stdin_port": 3, "control_port": 4, "hb_port": 5, "key": uuid.uuid4().hex,
                "signature_scheme": "hmac-sha256", "kernel_name": ""}
        connection_file = os.path.join(private, "connection.json")
        with open(connection_file, "w") as f:
            json.dump(info, f)
        for path in (private, connection_file):
            os.chown(path, other, other)
        request = {**like, "workdir": workdir, "uid": [other, other], "cgroup": SPARE_PREFIX + uuid.uuid4().hex[:12],
                   "private": private, "connection_file": connection_file}
        answer = zygote.ask(**request)
    except (RuntimeError, OSError, ValueError):
        shutil.rmtree(workdir, ignore_errors=True)
        return
    fds = answer.get("fds") or [None]
    for fd in fds[1:]:
        os.close(fd)
    process = _ForkedProcess(zygote, answer["pid"], fds[0], uid=other)
    _spares[_key(options)] = _Spare(zygote, _key(options), request, process, info,
                                    _data_signature(workdir))


def _other_uid(uid):
    """The other of the two kernel users of this grading process (containment.kernel_uid)."""
    if uid < containment.UID_BASE:  # not a kernel user of the grader's (never here as root)
        return uid
    return uid + 100_000_000 if uid < containment.UID_BASE + 100_000_000 else uid - 100_000_000


def _data_signature(workdir):
    """The names and contents of the data files in ``workdir``, as a digest."""
    import hashlib

    digest = hashlib.sha256()
    for name in containment._data_files(workdir):
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        try:
            fd = os.open(os.path.join(workdir, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
        except OSError:
            digest.update(b"?")
    return digest.hexdigest()


# --- the zygote's side ---------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _tmpfs(target, mb, mode):
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={mb * 2**20},mode={mode}")


def _contain(request, options):
    """In the forked child (root, with the zygote's capabilities): the kernel's own mounts.

    The private folder, the data files and the readable folders under /tmp (a course checked out
    there: its Python and packages) are first bound to a staging tmpfs under /dev, then /tmp (and
    the scratch folder, if it is elsewhere) is covered by a fresh tmpfs, and they are moved back
    to their paths in it; the working directory gets a fresh tmpfs of its own.
    """
    private, workdir, scratch = request["private"], request["workdir"], options["scratch"]
    data = containment._data_files(workdir)
    under_tmp = [p for p in _readable(options) if p.startswith("/tmp/") and os.path.isdir(p)]
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    stage = f"/dev/.stage-{os.getpid()}"  # kernels forked at once each have their own
    os.mkdir(stage, 0o700)
    _tmpfs(stage, 1, "0700")
    os.mkdir(f"{stage}/private")
    _mount(private, f"{stage}/private", None, MS_BIND)
    for name in data:
        open(f"{stage}/data-{name}", "w").close()
        _mount(os.path.join(workdir, name), f"{stage}/data-{name}", None, MS_BIND)
    for k, path in enumerate(under_tmp):  # with what covers them (rnn_ref, the checks)
        os.mkdir(f"{stage}/read-{k}")
        _mount(path, f"{stage}/read-{k}", None, MS_BIND | MS_REC)
    _tmpfs("/tmp", options["tmp"], "1777")
    for k, path in enumerate(under_tmp):
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"{stage}/read-{k}", path, None, MS_MOVE)
    covered = os.path.isdir(scratch)  # not under /tmp: cover it too
    if covered:
        _tmpfs(scratch, 1, "0711")  # the other kernels' folders disappear
    for path in (private, workdir):
        os.makedirs(path, mode=0o755, exist_ok=True)
    _mount(f"{stage}/private", private, None, MS_MOVE)
    _tmpfs(workdir, options["workdir"], "1777")
    for name in data:
        target = os.path.join(workdir, name)
        open(target, "w").close()
        _mount(f"{stage}/data-{name}", target, None, MS_MOVE)
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _check(_libc.umount2(stage.encode(), MNT_DETACH), "umount the staging folder")
    os.rmdir(stage)
    if covered:
        _mount("tmpfs", scratch, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
               "size=1048576,mode=0711")
    for path in [p for p in options["cgroups"].split(",") if p]:
        _libc.umount2(path.encode(), MNT_DETACH)


def _wait_for(pid):
    """Wait for ``pid``, reaping any other child; its exit code (128 + signal when killed)."""
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        if done == pid:
            return os.waitstatus_to_exitcode(status) % 256 if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _child(request, options, running):
    """The forked child: contain, then become the grading kernel. Never returns.

    ``running``: the write end of the pipe that tells the grader this child ended; with the
    sandbox only this process (the kernel's parent outside its namespace, which ends with it)
    keeps it, never a process the student's code can reach.
    """
    code = 1
    try:
        _libc.prctl(containment.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.setsid()
        sandbox = options["sandbox"] == "on"
        uid, gid = request["uid"]
        if options["cgroups"] and request["cgroup"]:
            cgroups.join(options["cgroups"], request["cgroup"], options["memory"], options["processes"])
        if sandbox:
            _contain(request, options)
            init = os.fork()  # process 1 of the new namespace: reaps, as bubblewrap's init does
            if init:
                os._exit(_wait_for(init))
            os.close(running)
            _libc.prctl(containment.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            kernel = os.fork()
            if kernel:
                containment._drop_privileges(uid, gid)
                os._exit(_wait_for(kernel))
        _become_kernel(request, options, uid, gid)
    except BaseException as exc:  # noqa: BLE001 (a child never returns into the zygote's loop)
        try:
            os.write(2, f"zygote child: {type(exc).__name__}: {exc}\n".encode())
        except OSError:
            pass
        try:
            with open(os.path.join(request["private"], "kernel.log"), "a") as log:
                log.write(f"zygote child: {type(exc).__name__}: {exc}\n")
        except OSError:
            pass
        code = 1
    os._exit(code)


KERNEL_PROCESS_NAME = b"grading-kernel"  # a forked kernel's name (its command line is the zygote's)
PR_SET_NAME = 15


def _become_kernel(request, options, uid, gid):
    sandbox = options["sandbox"] == "on"
    private, workdir = request["private"], request["workdir"]
    _libc.prctl(containment.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(KERNEL_PROCESS_NAME), 0, 0, 0)
    if not sandbox:
        os.chown(workdir, uid, gid)
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(containment.KERNEL_ENV)
    if sandbox:
        os.environ.update(HOME="/tmp", MPLCONFIGDIR="/tmp/matplotlib", IPYTHONDIR="/tmp/ipython",
                          USER="student", LOGNAME="student")
    else:
        os.environ.update(HOME=private, IPYTHONDIR=os.path.join(private, "ipython"),
                          MPLCONFIGDIR=os.path.join(private, "matplotlib"), USER="student", LOGNAME="student")
    os.environ.pop("JPY_PARENT_PID", None)
    os.environ["PWD"] = workdir
    log = os.open(os.path.join(private, "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchown(log, uid, gid)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    sys.stdin, sys.stdout, sys.stderr = (open(0, "r", closefd=False), open(1, "w", closefd=False),
                                         open(2, "w", closefd=False))
    os.chdir(workdir)
    containment._set_limits(options["cpu"], options["memory"], options["file"], options["processes"])
    containment._drop_privileges(uid, gid)
    sys.path[0:0] = [workdir]  # as ``python -m autograder.kernel`` run in the working directory
    sys.argv = [os.path.join(os.path.dirname(__file__), "kernel.py"), "-f", request["connection_file"]]
    from ipykernel.kernelapp import IPKernelApp

    from .kernel import GradingKernel

    IPKernelApp.launch_instance(argv=["-f", request["connection_file"]], kernel_class=GradingKernel)
    os._exit(0)


# what every kernel imports while it starts (measured: ipykernel 7, IPython 9), imported once
PREIMPORTED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
               "ipykernel.comm", "IPython.core.completerlib", "IPython.core.debugger",
               "IPython.core.oinspect", "sqlite3", "tornado.gen", "tornado.locks", "tornado.queues",
               "pdb", "pydoc", "faulthandler", "numpy", "autograder.kernel")


def _note(text):
    """A line on the zygote's stderr ($AUTOGRADER_ZYGOTE_LOG, else nowhere)."""
    try:
        os.write(2, f"{text}\n".encode())
    except OSError:
        pass


def serve(options):
    """The zygote's loop: import once, then fork a kernel per request (JSON lines on stdin/stdout)."""
    import importlib

    _libc.prctl(containment.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _note(f"zygote {os.getpid()} started")
    for name in [*PREIMPORTED, *[n for n in options["trusted"].split(",") if n]]:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (the kernel fails on it the same way, in a cell)
            pass
    channel = socket.socket(fileno=os.dup(1))  # the grader's socket (stdin and stdout)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # a library's print never reaches the grader
    children = {}  # pid -> exit code (None while running)

    def reap():
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children[pid] = os.waitstatus_to_exitcode(status)

    def answer(fds=(), **reply):
        data = (json.dumps(reply) + "\n").encode()
        if fds:
            socket.send_fds(channel, [data], list(fds))
        else:
            channel.sendall(data)

    answer(ready=True)
    for line in sys.stdin:
        request = json.loads(line)
        reap()
        op = request.get("op")
        if op == "start":
            ended, running = os.pipe()  # the kernel's process holds the only write end
            try:
                pid = os.fork()
            except OSError as exc:
                os.close(ended)
                os.close(running)
                answer(error=str(exc))
                continue
            if pid == 0:
                channel.close()
                os.close(ended)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the grader's socket stays here
                _child(request, options, running)
            os.close(running)
            children[pid] = None
            try:
                answer(pid=pid, fds=[ended])
            finally:
                os.close(ended)
            _note(f"kernel {pid} forked" if not request["cgroup"].startswith(SPARE_PREFIX) else
                  f"spare {pid} started")
        elif op == "taken":  # a spare kernel is given to a notebook (for the log)
            answer(done=True)
            _note(f"kernel {request.get('pid')} forked ahead, taken")
        elif op == "poll":
            status = children.get(request["pid"], -signal.SIGKILL)
            if status is not None:
                children.pop(request["pid"], None)
            answer(status=status)
        elif op in ("signal", "killall"):
            pids = [request["pid"]] if op == "signal" else [p for p, s in children.items() if s is None]
            signum = request.get("signal", signal.SIGKILL)
            for pid in pids:
                if children.get(pid, 0) is None:
                    try:
                        os.kill(pid, signum)
                    except ProcessLookupError:
                        pass
                    if signum == signal.SIGKILL:  # gone at once: the next poll says so
                        children[pid] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            answer(done=True)
        else:
            answer(error=f"unknown request {op!r}")


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
