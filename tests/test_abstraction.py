"""rnn_ref.abstraction: unroll with each cell's state function equals that cell's sequence forward."""

import numpy as np
import pytest

from rnn_ref.abstraction import identity_output, unroll
from rnn_ref.elman import elman_forward, elman_output_function, elman_state_function
from rnn_ref.gru import gru_forward, gru_state_function
from rnn_ref.lstm import lstm_forward, lstm_state_function


def test_unroll_applies_R_then_O_at_every_step():
    xs = np.arange(6.0).reshape(1, 3, 2)  # a running sum as the state, its double as the output
    states, ys = unroll(lambda s, x: s + x, lambda s: 2 * s, np.zeros((1, 2)), xs)
    assert len(states) == 3
    np.testing.assert_array_equal(states[-1], [[6.0, 9.0]])
    np.testing.assert_array_equal(ys, 2 * np.cumsum(xs, axis=1))


@pytest.mark.parametrize("cell", ["elman_tanh", "elman_relu", "lstm", "gru_after", "gru_before"])
def test_unroll_equals_the_sequence_forward(cell, rng, random_params):
    N, T, D, H = 3, 5, 4, 2
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    kind, _, variant = cell.partition("_")
    p = random_params(kind, D, H, rng)
    if kind == "elman":
        R, s0 = elman_state_function(**p, activation=variant), h0
        hs, _ = elman_forward(x, h0, **p, activation=variant)
    elif kind == "lstm":
        c0 = rng.normal(size=(N, H))
        R, s0 = lstm_state_function(**p), (h0, c0)
        hs, _ = lstm_forward(x, h0, **p, c0=c0)
    else:
        R, s0 = gru_state_function(**p, reset=variant), h0
        hs, _ = gru_forward(x, h0, **p, reset=variant)
    states, ys = unroll(R, identity_output, s0, x)
    assert len(states) == T
    np.testing.assert_allclose(ys, hs, rtol=0, atol=1e-14)


def test_elman_output_function_gives_distributions(rng, random_params):
    p = random_params("elman", 3, 4, rng)
    _, ys = unroll(elman_state_function(**p), elman_output_function(rng.normal(size=(4, 6)), np.zeros(6)),
                   np.zeros((2, 4)), rng.normal(size=(2, 5, 3)))
    assert ys.shape == (2, 5, 6)
    np.testing.assert_allclose(ys.sum(axis=2), 1.0, atol=1e-12)
    assert ys.min() > 0


def test_identity_output_reads_h_from_an_lstm_state():
    h, c = np.ones((2, 3)), np.zeros((2, 3))
    assert identity_output((h, c)) is h
    assert identity_output(h) is h


def test_unroll_rejects_bad_sequences():
    with pytest.raises(ValueError, match=r"xs has shape \(2, 3\)"):
        unroll(lambda s, x: s, identity_output, 0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="T = 0"):
        unroll(lambda s, x: s, identity_output, 0, np.zeros((2, 0, 3)))
