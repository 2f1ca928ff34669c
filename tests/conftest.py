"""Shared fixtures: a seeded random generator, well-conditioned layer parameters, and a
no-mutation check. Gradient checks use rnn_ref.gradcheck directly (check_layer_gradients for
layers, numerical_gradient(..., order=4) for scalar losses)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

GATES = {"elman": 1, "lstm": 4, "gru": 3}  # weight blocks per layer kind


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
