"""Best-of-k timing, alternating between the compared functions so that both meet the same
machine load. On a shared, noisy machine the minimum is the stable statistic; the process CPU
time is reported too, since waiting for a busy core does not count in it."""

import time


def best_of_each(fns, repeat, min_seconds=0.0):
    """[(wall, cpu), ...]: for each ``fn`` in ``fns``, its smallest wall-clock and process-CPU seconds.

    One warm-up call each first; then rounds that call every function once in turn, ``repeat``
    rounds, continued until ``min_seconds`` of measuring have passed (so small cases get more
    samples). With several threads the CPU time adds up all of them, including threads that
    spin while waiting.
    """
    for fn in fns:
        fn()
    walls, cpus = [[] for _ in fns], [[] for _ in fns]
    start = time.perf_counter()
    while len(walls[0]) < repeat or time.perf_counter() - start < min_seconds:
        for k, fn in enumerate(fns):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls[k].append(time.perf_counter() - w0)
            cpus[k].append(time.process_time() - c0)
    return [(min(w), min(c)) for w, c in zip(walls, cpus)]
