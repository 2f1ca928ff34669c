"""Timing one program in one process, and alternating the worker processes of several programs.

Every compared program runs in a process of its own (:mod:`bench.worker`), so that no library's
threads (OpenBLAS's spinning workers, torch's OpenMP pool) compete with another's inside one
process. :func:`alternate` starts the workers in turn, several rounds, the order rotated each
round, so that every program meets the same changes of machine load. On a shared machine the
minimum over calls is the steady statistic; process CPU time is recorded too, since waiting for
a core that another program holds does not count in it.
"""

import json
import subprocess
import sys
import time


def best_of(fn, repeat, min_seconds=0.0):
    """{"wall": [...], "cpu": [...]}: seconds of ``repeat`` timed calls of ``fn`` after one warm-up.

    Calls go on past ``repeat`` until ``min_seconds`` of measuring have passed (small cases get
    more samples). CPU time is the process's: with several threads it adds up all of them,
    including threads that spin while they wait.
    """
    fn()
    walls, cpus = [], []
    start = time.perf_counter()
    while len(walls) < repeat or time.perf_counter() - start < min_seconds:
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {"wall": walls, "cpu": cpus}


def run_worker(spec, env):
    """Run ``python -m bench.worker`` on ``spec`` (a dict) in a new process; returns its JSON answer."""
    done = subprocess.run([sys.executable, "-m", "bench.worker", json.dumps(spec)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench.worker {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def alternate(specs, rounds, env, run=run_worker):
    """Run every spec in its own process, ``rounds`` times, rotating the order each round.

    specs: {name: spec}. Returns {name: [answer of round 1, answer of round 2, ...]}.
    """
    names = list(specs)
    answers = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            answers[name].append(run(specs[name], env))
    return answers
