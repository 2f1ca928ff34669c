"""What every training run shares: seeding, threads, a time budget and a progress bar.

Each run stops by itself: after ``max_steps`` updates or ``seconds`` of CPU time, whichever
comes first. Training uses one thread, so ``seconds`` of CPU time is that many seconds of one
core: the wall-clock time on an idle machine, and the same amount of work when other programs
share the CPU (a wall-clock cap of ten times the budget still stops a starved run). A run that
stops on steps is reproducible bit for bit on the same machine; a run that stops on time does as
many steps as the core allows (the stored result records how many).
"""

import ctypes
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm


def seed_everything(seed):
    """Seed python, numpy and torch, and train on one thread (the CPU is shared)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    limit_numpy_blas_to_one_thread()


def limit_numpy_blas_to_one_thread():
    """Ask numpy's OpenBLAS for one thread (it starts with one per core).

    On a shared CPU, idle BLAS threads spin and burn CPU time: the numpy character model ran ten
    times slower per update with two threads than with one. Does nothing if numpy uses
    another BLAS.
    """
    libs = Path(np.__file__).parent.parent / "numpy.libs"
    for path in sorted(libs.glob("*openblas*")):
        lib = ctypes.CDLL(str(path))
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            if hasattr(lib, name):
                getattr(lib, name)(1)
                return


def show_progress():
    """A progress bar only on a terminal: none in the book build, the tests or a log file."""
    return sys.stderr.isatty()


def run_steps(step, max_steps, seconds, desc="training", stop_loss=None):
    """Call ``step(i, progress)`` for i = 0, 1, ... until max_steps or the time budget is spent.

    With ``stop_loss``, also stop once the mean loss of the last 20 updates is below it.

    progress is the fraction of the budget used so far, max(i / max_steps, cpu / seconds), for
    learning-rate schedules. step returns the training loss of that update (a float).
    Returns (losses, cpu seconds, wall seconds): one loss per update.
    """
    losses = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with tqdm(total=max_steps, desc=desc, disable=not show_progress(), leave=False) as bar:
        for i in range(max_steps):
            cpu = time.process_time() - cpu0
            if cpu >= seconds or time.perf_counter() - wall0 >= 10 * seconds:
                break
            losses.append(float(step(i, max(i / max_steps, cpu / seconds))))
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            if stop_loss is not None and len(losses) >= 20 and np.mean(losses[-20:]) < stop_loss:
                break
    return losses, time.process_time() - cpu0, time.perf_counter() - wall0


def clipped_step(model, opt, loss, max_norm=1.0):
    """One update: gradients of ``loss``, clipped to global norm ``max_norm``, then ``opt.step()``."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    opt.step()


def decayed_lr(lr, progress, tail=0.3):
    """Constant learning rate, then a linear decay to zero over the last ``tail`` of the budget."""
    return lr * min(1.0, (1.0 - progress) / tail)


def smooth(values, points=200):
    """Average a long curve into at most ``points`` buckets (for storing and plotting)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) <= points:
        return values.tolist()
    edges = np.linspace(0, len(values), points + 1).astype(int)
    return [float(values[a:b].mean()) for a, b in zip(edges[:-1], edges[1:])]
