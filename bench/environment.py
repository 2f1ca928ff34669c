"""The benchmark's process environment: what machine, which BLAS, how many threads.

Every timed program runs in a worker process (:mod:`bench.worker`) started with the same
environment: ``*_NUM_THREADS`` set to the benchmark's thread count before numpy or torch is
imported, and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed, so that numpy runs the kernel its
OpenBLAS picks for this CPU, as a user's numpy does (some machines set the two for older OpenBLAS
builds). ``--keep-openblas-env`` keeps them. Tests never change them.
"""

import os
import platform

SLOWING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


def worker_environment(threads, keep_openblas_env=False):
    """(environment for every worker, names of the OpenBLAS overrides removed from it)."""
    env = dict(os.environ)
    removed = []
    if not keep_openblas_env:
        removed = [f"{k}={env.pop(k)}" for k in SLOWING_VARIABLES if k in env]
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    return env, removed


def cpu_description():
    """One line naming the CPU: model, family/model/stepping, vector ISA, cores, hypervisor."""
    fields, flags = {}, set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if not sep:
                    if fields:
                        break  # the first processor is enough
                    continue
                if key == "flags":
                    flags = set(value.split())
                fields.setdefault(key, value)
    except OSError:
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs"
    isa = [f for f in ISA_FLAGS if f in flags]
    where = ", virtual machine" if "hypervisor" in flags else ""
    return (f"{fields.get('model name', '?')} ({fields.get('vendor_id', '?')} family "
            f"{fields.get('cpu family', '?')} model {fields.get('model', '?')} stepping "
            f"{fields.get('stepping', '?')}), {os.cpu_count()} logical CPUs{where}; "
            f"ISA: {' '.join(isa) or 'none of ' + ' '.join(ISA_FLAGS)}")


def numpy_blas(threads):
    """numpy's BLAS, as numpy's build config and threadpoolctl (if installed) see it; limits it to ``threads``."""
    import numpy as np

    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        built = f"{config.get('name', '?')} {config.get('version', '?')}"
    except Exception:  # older numpy: no dict mode
        built = "?"
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return f"numpy {np.__version__}, BLAS {built} (threadpoolctl not installed: kernel unknown)"
    threadpool_limits(limits=threads, user_api="blas")
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    for pool in threadpool_info():
        if pool["user_api"] == "blas" and pool["filepath"].startswith(numpy_dir) and "numpy" in pool["filepath"]:
            return (f"numpy {np.__version__}, BLAS {built}: {pool['internal_api']} {pool['version']}, "
                    f"kernel {pool.get('architecture', '?')}, {pool['num_threads']} threads")
    return f"numpy {np.__version__}, BLAS {built} (not found by threadpoolctl)"


def torch_parallel(threads):
    """torch's version, parallel backend, thread count and math libraries; sets its threads to ``threads``."""
    import re

    import torch

    torch.set_num_threads(threads)
    info = torch.__config__.parallel_info()
    found = lambda pattern: (re.search(pattern, info) or [None, "?"])[1]
    onednn = found(r"MKL-DNN (v[\d.]+)") if torch.backends.mkldnn.is_available() else "off"
    mkl = found(r"Math Kernel Library Version ([\d.]+)") if torch.backends.mkl.is_available() else "off"
    return (f"torch {torch.__version__}, {found(r'ATen parallel backend: (.*)')} backend, "
            f"{torch.get_num_threads()} threads (at::get_num_threads), oneDNN {onednn}, MKL {mkl}")
