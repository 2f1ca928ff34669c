"""Where a grading submission's time goes: ``python -m bench.grading --profile``.

Grades a small class in this process (``--jobs 1``) with timers wrapped around the libraries'
own entry points, and prints the time per submission of each part:

- kernel start: nbclient starting the kernel and waiting until it answers (as root with
  bubblewrap: the zygote forking it into its sandbox, autograder.zygote, and the zygote's own
  start once per run; else the launcher, its resource limits and sandbox, the Python
  interpreter and ipykernel's imports);
- the notebook's cells, by kind: the set-up cell (imports of numpy and the checks), the
  student's answer cells, the test cells (the checks' own work); then the kernel's shutdown;
- the test cells' requests to the kernel (they run here, autograder.channel): the round trips
  (messages and the kernel's dispatch), and, from the kernel's own timings in each answer, its
  restore of the start-up state before a call, the student's function observed
  (rnn_course.judge.call_student), and the values read and written on both sides (autograder.wire);
- nbgrader's autograde around them: its SQL statements (gradebook), and the rest (reading,
  checking and writing notebooks, copying files, its preprocessors);
- feedback: nbgrader's generate_feedback, run by autograder.feedback with one exporter per run
  (its SQL, and rendering the HTML page);
- the grader's own work: what is left of the run (tamper scan, notes, journal, CSV).

Set-up once per run (course directory and gradebook, the sandbox probe, the kernel zygote) and the command's own
start-up (Python and the imports of the grader and nbgrader, measured in a fresh process) are
shown apart. The class is graded twice, with the sandbox and without (``--sandbox off``): the
difference of the kernel start is the sandbox's cost per kernel.

Timers are wrappers installed in this process only (the grader's code is not changed). Nested
timers are exclusive: time spent in an inner part is not counted in the outer one.
"""

import functools
import inspect
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


class Profile:
    """Exclusive seconds per path of nested parts, e.g. ("autograde", "database")."""

    def __init__(self):
        self.stack = []
        self.exclusive = defaultdict(float)
        self.calls = defaultdict(int)

    def enter(self, name):
        self.stack.append([name, time.perf_counter(), 0.0])

    def leave(self, moved=None):
        """End the innermost part. moved: {name: seconds} of its exclusive time that belong to
        parts of the same level measured elsewhere (the kernel's own timings of a request)."""
        name, start, inner = self.stack.pop()
        elapsed = time.perf_counter() - start
        path = tuple(n for n, _, _ in self.stack) + (name,)
        own = elapsed - inner
        for other, seconds in (moved or {}).items():
            seconds = min(max(seconds, 0.0), own)
            self.exclusive[path[:-1] + (other,)] += seconds
            own -= seconds
        self.exclusive[path] += own
        self.calls[path] += 1
        if self.stack:
            self.stack[-1][2] += elapsed

    def wrap(self, owner, attribute, name):
        """Time every call of ``owner.attribute`` (sync or async) as the part ``name``
        (a string, or a function of the call's arguments). False if ``owner`` has no such attribute."""
        original = getattr(owner, attribute, None)
        if original is None:
            return False
        label = name if callable(name) else (lambda *a, **k: name)
        if inspect.iscoroutinefunction(original):
            @functools.wraps(original)
            async def timed(*args, **kwargs):
                self.enter(label(*args, **kwargs))
                try:
                    return await original(*args, **kwargs)
                finally:
                    self.leave()
        else:
            @functools.wraps(original)
            def timed(*args, **kwargs):
                self.enter(label(*args, **kwargs))
                try:
                    return original(*args, **kwargs)
                finally:
                    self.leave()
        setattr(owner, attribute, timed)
        return True


def _timed_request(profile, channel_class):
    """Time each request of the test cells to the kernel (autograder.channel) as a round trip,
    minus what the kernel says it spent restoring its state, running the student's function
    (observed) and reading and writing values (the answer's ``took``, autograder.kernel.Server)."""
    original = channel_class._send

    @functools.wraps(original)
    def timed(self, request):
        profile.enter("round trip")
        answer = None
        try:
            answer = original(self, request)
            return answer
        finally:
            took = answer.get("took") if isinstance(answer, dict) else None
            moved = {}
            if isinstance(took, dict) and all(isinstance(v, float) for v in took.values()):
                restore, call = took.get("restore", 0.0), took.get("call", 0.0)
                moved = {"restore": restore, "student call": call,
                         "kernel values": took.get("serve", 0.0) - restore - call}
            profile.leave(moved)

    channel_class._send = timed


def _cell_kind(client, cell, *args, **kwargs):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("grade"):
        return "cells: tests (the checks)"
    if meta.get("solution"):
        return "cells: student answers"
    return "cells: set-up (imports)"


def install(profile):
    """Wrap the entry points; returns the names that were not found (the profile then lacks them)."""
    import nbclient
    import sqlalchemy
    from nbgrader.apps import NbGraderAPI

    from autograder import channel, containment, execution, feedback, grade, zygote

    missing = []
    for owner, attribute, name in [
        (NbGraderAPI, "autograde", "autograde"),
        (NbGraderAPI, "generate_feedback", "feedback"),
        (feedback, "generate", "feedback"),
        # nbclient's sync methods wrap the coroutine functions themselves (run_sync at class
        # creation), so each is timed under both names; a call goes through one of them only
        (nbclient.NotebookClient, "start_new_kernel", "kernel start"),
        (nbclient.NotebookClient, "start_new_kernel_client", "kernel start"),
        (nbclient.NotebookClient, "execute_cell", _cell_kind),
        (nbclient.NotebookClient, "_cleanup_kernel", "kernel shutdown"),
        (nbclient.NotebookClient, "async_start_new_kernel", "kernel start"),
        (nbclient.NotebookClient, "async_start_new_kernel_client", "kernel start"),
        (nbclient.NotebookClient, "async_execute_cell", _cell_kind),
        (nbclient.NotebookClient, "_async_cleanup_kernel", "kernel shutdown"),
        (grade, "prepare_course", "course set-up"),
        (containment, "sandbox_status", "sandbox probe"),
        (zygote.Zygote, "__init__", "zygote start"),
        # test cells that run here (autograder.channel): the checks' own work, and their requests
        (execution.ContainedExecute, "_run_trusted", "cells: tests (the checks)"),
        (channel.Channel, "end", "round trip"),  # the end of a test cell's session
        (channel.Channel, "encode", "values"),
        (channel.Channel, "decode", "values"),
    ]:
        if not profile.wrap(owner, attribute, name):
            missing.append(f"{getattr(owner, '__name__', owner)}.{attribute}")

    _timed_request(profile, channel.Channel)

    @sqlalchemy.event.listens_for(sqlalchemy.engine.Engine, "before_cursor_execute")
    def _before(*args):
        profile.enter("database")

    @sqlalchemy.event.listens_for(sqlalchemy.engine.Engine, "after_cursor_execute")
    def _after(*args):
        profile.leave()

    return missing


TESTS = "cells: tests (the checks)"
ROWS = [  # (label, paths whose exclusive time it sums, per submission or once per run)
    ("kernel start (forked from the zygote, or the launcher)", [("autograde", "kernel start")], True),
    ("cells: set-up (import numpy and the checks)", [("autograde", "cells: set-up (imports)")], True),
    ("cells: student answers", [("autograde", "cells: student answers")], True),
    ("cells: tests (the checks' own work)", [("autograde", "cells: tests (the checks)")], True),
    ("  tests: round trips to the kernel (messages, dispatch)", [("autograde", TESTS, "round trip")], True),
    ("  tests: the kernel's restore before each call", [("autograde", TESTS, "restore")], True),
    ("  tests: the student's functions, observed, in the kernel", [("autograde", TESTS, "student call")], True),
    ("  tests: values to and from the kernel (wire, both sides)",
     [("autograde", TESTS, "values"), ("autograde", TESTS, "kernel values"),
      ("autograde", TESTS, "round trip", "values")], True),
    ("kernel shutdown", [("autograde", "kernel shutdown")], True),
    ("nbgrader autograde: gradebook SQL", [("autograde", "database")], True),
    ("nbgrader autograde: notebooks, files, preprocessors", [("autograde",)], True),
    ("feedback: gradebook SQL", [("feedback", "database")], True),
    ("feedback: HTML rendering and files", [("feedback",)], True),
    ("grader's own: tamper scan, notes, journal, scores, CSV", [("run",), ("database",)], True),
    ("once per run: course directory and gradebook set-up", [("course set-up",), ("course set-up", "database")], False),
    ("once per run: sandbox probe", [("sandbox probe",)], False),
    ("once per run: the kernel zygote's start (imports)", [("autograde", "kernel start", "zygote start")], False),
]


def _under_run(profile):
    """Exclusive times with the outer ("run",) stripped from the parts inside it."""
    out = defaultdict(float)
    for path, seconds in profile.exclusive.items():
        key = path[1:] if path[:1] == ("run",) and len(path) > 1 else path
        out[key] += seconds
    return out


def grade_profiled(assignment, folder, out, sandbox, seed=2024):
    """Grade ``folder`` in this process with the timers on; returns (profile, wall seconds, results)."""
    from autograder.grade import grade

    profile = Profile()
    missing = install(profile)
    profile.enter("run")
    start = time.perf_counter()
    try:
        results = grade(assignment, folder, out, seed=seed, progress=False, jobs=1, sandbox=sandbox)
    finally:
        wall = time.perf_counter() - start
        profile.leave()
    return profile, wall, results, missing


def _child(assignment, folder, out, sandbox, result_file):
    """In a fresh process (so the wrappers of one run do not stack on the other's): profile one run."""
    import json

    profile, wall, results, missing = grade_profiled(assignment, folder, out, sandbox)
    Path(result_file).write_text(json.dumps({
        "wall": wall, "missing": missing, "count": len(results),
        "graded": sum(1 for r in results if not r.reason),
        "exclusive": [[list(k), v] for k, v in _under_run(profile).items()],
    }))


def import_seconds():
    """(process wall seconds, of which imports): a fresh Python importing the grader and nbgrader."""
    code = ("import time; t = time.perf_counter(); import autograder.grade, autograder.runner, "
            "nbgrader.apps, nbclient; print(time.perf_counter() - t)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, float(done.stdout.strip())


def report(runs, count, assignment, startup):
    """The breakdown table: {label: run answer} for the sandbox modes, side by side."""
    labels = list(runs)
    lines = [f"where the time goes: {count} submissions of {assignment} (solved and blank in turn), "
             f"--jobs 1, graded in one process with timers; {os.cpu_count()} logical CPUs, "
             f"load average {os.getloadavg()[0]:.1f}",
             f"{'part':<58}" + "".join(f"{label:>22}" for label in labels),
             f"{'':<58}" + "".join(f"{'s/submission   %':>22}" for _ in labels)]
    tables = {label: {tuple(k): v for k, v in run["exclusive"]} for label, run in runs.items()}
    for text, paths, per_submission in ROWS:
        cells = []
        for label in labels:
            seconds = sum(tables[label].get(p, 0.0) for p in paths)
            share = 100 * seconds / runs[label]["wall"]
            cells.append(f"{seconds / count:>12.3f} {share:>5.1f}%" if per_submission
                         else f"{seconds:>10.2f} s once {share:>4.1f}%")
        lines.append(f"{text:<58}" + "".join(f"{c:>22}" for c in cells))
    lines.append(f"{'total (the grade call)':<58}" + "".join(
        f"{runs[label]['wall'] / count:>12.3f} {100.0:>5.1f}%" for label in labels))
    process, imports = startup
    lines.append(f"command start-up, once per run: {process:.2f} s for a fresh Python importing the "
                 f"grader and nbgrader ({imports:.2f} s of it imports)")
    for label, run in runs.items():
        if run["missing"]:
            lines.append(f"{label}: not timed (entry point not found): {', '.join(run['missing'])}")
        lines.append(f"{label}: {run['graded']} of {run['count']} submissions graded by nbgrader")
    return "\n".join(lines)


def main(assignment, folder, sandboxes=("auto", "off")):
    """Profile the class in ``folder`` once per sandbox mode (each in a fresh process); print the table."""
    import json

    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        for sandbox in sandboxes:
            result_file = Path(tmp) / f"{sandbox}.json"
            subprocess.run([sys.executable, "-m", "bench.grading_profile", assignment, str(folder),
                            str(Path(tmp) / f"out-{sandbox}"), sandbox, str(result_file)], check=True)
            runs[f"sandbox {sandbox}"] = json.loads(result_file.read_text())
    count = next(iter(runs.values()))["count"]
    print(report(runs, count, assignment, import_seconds()))


if __name__ == "__main__":
    _child(*sys.argv[1:6])
