"""Shared fixtures: a seeded random generator, well-conditioned layer parameters, and a
no-mutation check. Gradient checks use rnn_ref.gradcheck directly (check_layer_gradients for
layers, numerical_gradient(..., order=4) for scalar losses)."""

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

GATES = {"elman": 1, "lstm": 4, "gru": 3}  # weight blocks per layer kind
SESSION_VARIABLE = "AUTOGRADER_TEST_SESSION"  # inherited by graders, workers and kernels (AUTOGRADER_*)


def _marked(token):
    """Processes other than this one whose environment carries this test session's token."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        if process.pid == os.getpid() or "multiprocessing.resource_tracker" in " ".join(process.info["cmdline"] or []):
            continue  # the tracker of this process's pools: it ends when this process does
        try:
            if process.environ().get(SESSION_VARIABLE) == token and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            pass
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_tests():
    """The suite leaves no grader, worker, kernel or student process running (issue 15).

    Every process the tests start inherits a token in its environment; at the end of the session
    none may be left (after a grace period for kernels shutting down). Leftovers are killed and
    the session fails.
    """
    token = uuid.uuid4().hex
    os.environ[SESSION_VARIABLE] = token
    yield
    deadline = time.monotonic() + 30
    left = _marked(token)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = _marked(token)
    for process in left:
        try:
            process.kill()
        except Exception:  # noqa: BLE001
            pass
    assert not left, "processes outlived the tests: " + "; ".join(
        f"{p.pid} {' '.join(p.info['cmdline'] or [])[:200]}" for p in left)


@pytest.fixture
def rng():
    """A numpy Generator with a fixed seed (a fresh one for every test)."""
    return np.random.default_rng(1234)


def random_params(kind, D, H, rng, dtype=np.float64):
    """Parameters for ``elman_forward``/``lstm_forward``/``gru_forward`` (keyword dict).

    Weights N(0, 1/fan_in), biases N(0, 0.25): pre-activations of order one, so gradients
    neither vanish nor saturate in short test sequences.
    """
    G = GATES[kind] * H
    params = {"Wx": rng.normal(size=(D, G)) / np.sqrt(D), "Wh": rng.normal(size=(H, G)) / np.sqrt(H)}
    if kind == "gru":
        params["bx"], params["bh"] = 0.5 * rng.normal(size=G), 0.5 * rng.normal(size=G)
    else:
        params["b"] = 0.5 * rng.normal(size=G)
    return {k: v.astype(dtype) for k, v in params.items()}


@pytest.fixture(name="random_params")
def random_params_fixture():
    """``random_params(kind, D, H, rng, dtype=float64)``: see :func:`random_params`."""
    return random_params


@pytest.fixture
def unchanged():
    """``unchanged(*arrays)`` -> a callable that asserts the arrays still hold their old values."""

    def snapshot(*arrays):
        saved = [np.array(a, copy=True) for a in arrays]

        def check():
            for k, (a, old) in enumerate(zip(arrays, saved)):
                assert np.array_equal(np.asarray(a), old), f"argument {k} was modified"

        return check

    return snapshot


@pytest.fixture(scope="session")
def book():
    """Build the whole book once (for tests/test_book*.py); returns (returncode, output)."""
    root = Path(__file__).resolve().parents[1]
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", ".", "--all", "-W", "-n", "--keep-going"], cwd=root,
                          capture_output=True, text=True, timeout=1200)
    return proc.returncode, re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # no colours
