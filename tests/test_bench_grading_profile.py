"""``python -m bench.grading --profile``: the parts of a submission's grading time, measured.

No time is asserted: the tests check which parts are timed and that the parts add up.
"""

import json
import subprocess
import sys
import time

import pytest

from bench.grading import write_submissions
from bench.grading_profile import ROWS, TESTS, Profile


def test_nested_parts_are_exclusive_and_add_up_to_the_outer_part():
    profile = Profile()
    before = time.perf_counter()
    profile.enter("run")
    for _ in range(3):
        profile.enter("autograde")
        profile.enter("database")
        profile.leave()
        profile.enter("kernel start")
        profile.leave()
        profile.leave()
    profile.leave()
    after = time.perf_counter()
    assert dict(profile.calls) == {("run",): 1, ("run", "autograde"): 3,
                                   ("run", "autograde", "database"): 3,
                                   ("run", "autograde", "kernel start"): 3}
    assert all(seconds >= 0 for seconds in profile.exclusive.values())
    # exclusive times telescope: together they are the outer part's duration, nothing counted twice
    assert sum(profile.exclusive.values()) <= after - before


def test_time_measured_elsewhere_moves_to_sibling_parts_and_the_total_stays():
    profile = Profile()
    profile.enter("cell")
    profile.enter("round trip")
    time.sleep(0.02)
    profile.leave({"restore": 0.005, "student call": 0.5})  # more than was spent: capped
    profile.leave()
    parts = dict(profile.exclusive)
    assert parts[("cell", "restore")] == 0.005
    assert parts[("cell", "round trip")] == 0
    assert parts[("cell", "student call")] >= 0.015
    assert sum(v for k, v in parts.items() if k != ("cell",)) == pytest.approx(
        parts[("cell", "restore")] + parts[("cell", "student call")])


def test_wrap_times_sync_and_async_calls_under_a_label():
    import asyncio

    class Thing:
        def work(self, x):
            return x + 1

        async def later(self, x):
            return x * 2

    profile = Profile()
    assert profile.wrap(Thing, "work", "sync part") and profile.wrap(Thing, "later", lambda self, x: f"x={x}")
    assert not profile.wrap(Thing, "absent", "nothing")
    thing = Thing()
    assert thing.work(1) == 2 and asyncio.run(thing.later(3)) == 6
    assert dict(profile.calls) == {("sync part",): 1, ("x=3",): 1}


def test_a_profiled_class_times_every_part_of_grading(tmp_path):
    """Two submissions of a1_elman (solved, blank) graded in a child process with the timers on."""
    folder = tmp_path / "subs"
    write_submissions(folder, "a1_elman", 2)
    result = tmp_path / "profile.json"
    subprocess.run([sys.executable, "-m", "bench.grading_profile", "a1_elman", str(folder), str(tmp_path / "out"),
                    "off", str(result)], check=True, capture_output=True, timeout=600)
    run = json.loads(result.read_text())
    assert run["missing"] == [] and run["count"] == 2 and run["graded"] == 2
    parts = {tuple(path): seconds for path, seconds in run["exclusive"]}
    for path in [("autograde", "kernel start"), ("autograde", "cells: set-up (imports)"),
                 ("autograde", "cells: student answers"), ("autograde", "cells: tests (the checks)"),
                 ("autograde", "kernel shutdown"), ("autograde", "database"), ("autograde",),
                 ("feedback",), ("course set-up",), ("run",),
                 # the test cells run here: their requests to the kernel, split by the kernel's timings
                 ("autograde", TESTS, "round trip"), ("autograde", TESTS, "restore"),
                 ("autograde", TESTS, "student call"), ("autograde", TESTS, "kernel values"),
                 ("autograde", TESTS, "values")]:
        assert parts.get(path, 0) > 0, (path, parts)
    # every timed part is in a row of the printed table, and the parts add up to the grade call
    shown = {p for _, paths, _ in ROWS for p in paths}
    assert {p for p in parts if parts[p] > 0} <= shown, set(parts) - shown
    assert sum(parts.values()) == pytest.approx(run["wall"], rel=1e-6, abs=1e-4)  # each timer reads the clock on its own
