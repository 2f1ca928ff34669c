"""The benchmark's process environment: BLAS variables and threads, set before numpy loads.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE may be set on this machine (older OpenBLAS builds
need them); they make a current numpy pick a slower kernel. For the benchmark only, the
process re-executes itself without them and reports which kernel numpy then runs. Tests never
change them.
"""

import os
import sys

SLOWING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
REMOVED_MARK = "RNN_BENCH_REMOVED"  # what the re-executed process was started without
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def reexec_without_slowing_variables(keep):
    """Re-run ``python -m bench`` with the same arguments, minus the OpenBLAS overrides.

    Does nothing when ``keep`` is true, when none is set, or in the re-executed process itself.
    Must run before numpy is imported.
    """
    found = {k: os.environ[k] for k in SLOWING_VARIABLES if k in os.environ}
    if keep or not found or REMOVED_MARK in os.environ:
        return
    env = {k: v for k, v in os.environ.items() if k not in found}
    env[REMOVED_MARK] = ",".join(f"{k}={v}" for k, v in found.items())
    os.execve(sys.executable, [sys.executable, "-m", "bench", *sys.argv[1:]], env)


def set_thread_variables(threads):
    """Thread counts for every BLAS and OpenMP runtime, as environment variables (before import)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def limit_threads(threads):
    """Limit numpy's BLAS and torch to ``threads`` after import; return a description of numpy's BLAS."""
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # the environment variables set before import still hold
        return f"numpy BLAS: unknown (threadpoolctl missing), {threads} threads from the environment"
    import numpy as np

    threadpool_limits(limits=threads, user_api="blas")
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    for pool in threadpool_info():
        if pool["user_api"] == "blas" and pool["filepath"].startswith(numpy_dir) and "numpy" in pool["filepath"]:
            kernel = pool.get("architecture", "?")
            return f"numpy BLAS: {pool['internal_api']} {pool['version']}, kernel {kernel}, {pool['num_threads']} threads"
    return f"numpy BLAS: not found by threadpoolctl, {threads} threads requested"


def removed_variables():
    """The OpenBLAS overrides this process was started without ('' if none)."""
    return os.environ.get(REMOVED_MARK, "")
