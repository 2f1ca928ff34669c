"""Best-of-k timing. On a shared, noisy machine the minimum is the stable statistic; the
process CPU time is reported too, since waiting for a busy core does not count in it."""

import time


def best_of(fn, repeat, min_seconds=0.0):
    """(wall, cpu): the smallest wall-clock and process-CPU seconds over ``repeat`` calls of ``fn()``.

    One warm-up call first; keeps calling past ``repeat`` until ``min_seconds`` of measuring
    have passed (so small cases get more samples). With several threads the CPU time adds up
    all of them, including threads that spin while waiting.
    """
    fn()
    walls, cpus = [], []
    start = time.perf_counter()
    while len(walls) < repeat or time.perf_counter() - start < min_seconds:
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)
