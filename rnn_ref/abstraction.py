"""The RNN abstraction of the lectures: a state function R and an output function O.

    s_t = R(s_{t-1}, x_t),    y_t = O(s_t)

Any recurrent network is a choice of R and O; unrolling applies R along the sequence with the
same parameters at every step. The Elman, LSTM and GRU modules each expose their R and O
(``elman.elman_state_function``, ``lstm.lstm_state_function``, ``gru.gru_state_function``)
so that the book can run all three through :func:`unroll`.
"""

import numpy as np


def unroll(R, O, s0, xs):
    """Apply ``R`` along a sequence and ``O`` at every step.

    R: callable(s_prev, x_t) -> s_t, where x_t has shape (N, D) and s may be any value
       (an array (N, H), or a tuple such as the LSTM's (h, c)).
    O: callable(s_t) -> y_t, an array (N, K).
    s0: the initial state s_0.
    xs: inputs of shape (N, T, D) (batch first); step t reads ``xs[:, t]``.
    Returns (states, ys): ``states`` the list [s_1, ..., s_T] (s_0 excluded) and ``ys`` the
    outputs stacked to shape (N, T, K).
    """
    xs = np.asarray(xs)
    if xs.ndim != 3:
        raise ValueError(f"xs has shape {xs.shape}, expected (N, T, D)")
    states, ys = [], []
    s = s0
    for t in range(xs.shape[1]):
        s = R(s, xs[:, t])
        states.append(s)
        ys.append(O(s))
    if not ys:
        raise ValueError("xs has T = 0 time steps; unroll needs at least one")
    return states, np.stack(ys, axis=1)


def identity_output(s):
    """O(s) = s: the output is the hidden state itself (for an LSTM state (h, c), it is h)."""
    return s[0] if isinstance(s, tuple) else s
