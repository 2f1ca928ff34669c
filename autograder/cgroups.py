"""A cgroup (v1) per student kernel: its memory, children and tmpfs files included, and its processes.

A grading run makes one parent cgroup per controller below the grader's own
(``/sys/fs/cgroup/<controller>/<grader's cgroup>/rnn-grader-kernel-<pid>-...``); each kernel's
launcher (autograder.containment, still root) makes a child of it, sets ``memory.limit_in_bytes``
(and ``memory.memsw.limit_in_bytes`` where swap accounting exists) and ``pids.max``, and moves
itself there before it becomes the kernel, so that every process the student's code starts is
counted and can be killed with the kernel. Needs root and a writable cgroup v1 hierarchy with
the ``memory`` and ``pids`` controllers; :func:`available` says whether this machine has them.
"""

import os
import signal
import time

MOUNT = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "pids")


def _own(controller):
    """The grader's own cgroup directory of ``controller`` (v1), or None."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, names, path = line.rstrip("\n").split(":", 2)
                if controller in names.split(","):
                    return os.path.join(MOUNT, controller, path.lstrip("/"))
    except OSError:
        return None
    return None


def available():
    """(True, "") when per-kernel cgroups can be made here, else (False, why not)."""
    if os.geteuid() != 0:
        return False, "the grader is not root"
    for controller in CONTROLLERS:
        own = _own(controller)
        if own is None or not os.path.isdir(own):
            return False, f"no cgroup v1 '{controller}' controller at {MOUNT}/{controller}"
        probe = os.path.join(own, f"rnn-grader-probe-{os.getpid()}")
        try:
            os.mkdir(probe)
            os.rmdir(probe)
        except OSError as err:
            return False, f"cannot make a '{controller}' cgroup ({os.strerror(err.errno)})"
    return True, ""


def make_parent(name):
    """Create the run's parent cgroups; returns them as one string (``parent`` of the functions below)."""
    paths = [os.path.join(_own(controller), name) for controller in CONTROLLERS]
    for path in paths:
        os.makedirs(path, exist_ok=True)
    return ",".join(paths)


def _paths(parent):
    """{controller: directory} of a ``parent`` string (one directory per controller, in order)."""
    return dict(zip(CONTROLLERS, parent.split(",")))


def join(parent, name, memory_mb, processes):
    """Move this process into a new cgroup ``name`` below ``parent`` with the kernel's limits."""
    limits = {"memory": {"memory.limit_in_bytes": memory_mb * 2**20,
                         "memory.memsw.limit_in_bytes": memory_mb * 2**20},
              "pids": {"pids.max": processes}}
    for controller in CONTROLLERS:
        path = os.path.join(_paths(parent)[controller], name)
        os.makedirs(path, exist_ok=True)
        for key, value in limits[controller].items():
            try:
                with open(os.path.join(path, key), "w") as f:
                    f.write(str(value))
            except OSError:
                if key != "memory.memsw.limit_in_bytes":  # no swap accounting: the RAM limit holds
                    raise
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def joined(parent, name):
    """Whether a process has joined kernel cgroup ``name`` in every controller."""
    return all(_pids(os.path.join(path, name)) for path in _paths(parent).values())


def rename(parent, old, new):
    """Rename kernel cgroup ``old`` to ``new`` in every controller, its processes staying in it
    (cgroup v1 renames within a parent). OSError, with nothing renamed, when it cannot."""
    done = []
    try:
        for path in _paths(parent).values():
            os.rename(os.path.join(path, old), os.path.join(path, new))
            done.append(path)
    except OSError:
        for path in done:
            os.rename(os.path.join(path, new), os.path.join(path, old))
        raise


def _pids(path):
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def kill(parent, name, wait=5.0):
    """Kill every process of kernel cgroup ``name`` and remove the cgroup (the kernel is over)."""
    for controller in CONTROLLERS:
        path = os.path.join(_paths(parent)[controller], name)
        if not os.path.isdir(path):
            continue
        deadline = time.monotonic() + wait
        pause = 0.001  # killed processes leave within milliseconds: look again soon, then less often
        while True:
            pids = _pids(path)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.rmdir(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.05)


def remove_parent(parent):
    """Kill every kernel left in the run's cgroups and remove them."""
    for path in _paths(parent).values():
        if os.path.isdir(path):
            for entry in os.listdir(path):
                if os.path.isdir(os.path.join(path, entry)):
                    kill(parent, entry)
            try:
                os.rmdir(path)
            except OSError:
                pass


def stale_parents(prefix, alive):
    """Parents of runs named ``prefix<pid>-...`` (below the grader's cgroups) whose grader pid is not ``alive``."""
    owns = [_own(controller) for controller in CONTROLLERS]
    if not all(own and os.path.isdir(own) for own in owns):
        return []
    names = set()
    for own in owns:
        for entry in os.listdir(own):
            pid = entry[len(prefix):].split("-")[0] if entry.startswith(prefix) else ""
            if pid.isdigit() and not alive(int(pid)):
                names.add(entry)
    return [",".join(os.path.join(own, name) for own in owns) for name in sorted(names)]
