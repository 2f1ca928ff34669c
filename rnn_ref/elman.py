r"""The Elman RNN: one hidden layer fed back into itself.

In the book's notation, with row vectors and a batch of N sequences:

.. math::

    a_t = x_t W_x + h_{t-1} W_h + b, \qquad h_t = \tanh(a_t)

x_t (N, D), h_t (N, H), W_x (D, H), W_h (H, H), b (H,). ReLU can replace tanh
(``activation="relu"``), as in the identity-initialised ReLU RNN of the vanishing-gradient
chapter. The output layer (``y_t = softmax(h_t W_y + b_y)``) is a temporal affine layer in
:mod:`rnn_ref.layers`.
"""

import numpy as np

from .activations import get_activation
from .shapes import check_shape, result_dtype


def _check_params(x, h_prev, Wx, Wh, b, x_shape):
    """Validate shapes for the step (x_shape (N, D)) or sequence (x_shape (N, T, D)) forward."""
    Wx = check_shape("Wx", Wx, (None, None))
    D, H = Wx.shape
    x = check_shape("x", x, x_shape[:-1] + (D,))
    N = x.shape[0]
    h_prev = check_shape("h_prev" if len(x_shape) == 2 else "h0", h_prev, (N, H))
    Wh = check_shape("Wh", Wh, (H, H))
    b = check_shape("b", b, (H,))
    dtype = result_dtype(x, h_prev, Wx, Wh, b)
    return [a.astype(dtype, copy=False) for a in (x, h_prev, Wx, Wh, b)]


def elman_step_forward(x, h_prev, Wx, Wh, b, activation="tanh"):
    """One Elman step: h = act(x @ Wx + h_prev @ Wh + b).

    Inputs: x (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), b (H,); activation 'tanh' or 'relu'.
    Returns (h, cache): h (N, H); cache for :func:`elman_step_backward`.
    """
    x, h_prev, Wx, Wh, b = _check_params(x, h_prev, Wx, Wh, b, (None, None))
    f, _ = get_activation(activation)
    h = f(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h.copy(), activation)  # the cache keeps its own h


def elman_step_backward(dh, cache):
    """Backward pass of one Elman step.

    Inputs: dh (N, H), the loss gradient with respect to h; cache from the forward.
    Returns (dx (N, D), dh_prev (N, H), dWx (D, H), dWh (H, H), db (H,)).
    """
    x, h_prev, Wx, Wh, h, activation = cache
    dh = check_shape("dh", dh, h.shape)
    _, df = get_activation(activation)
    da = dh * df(h)  # new array: dh is never written to
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


_IN_PLACE = {"tanh": lambda a: np.tanh(a, out=a), "relu": lambda a: np.maximum(a, 0, out=a)}


def elman_forward(x, h0, Wx, Wh, b, activation="tanh"):
    """Run the Elman RNN over a whole sequence.

    Inputs: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,); activation 'tanh' or 'relu'.
    Returns (hs, cache): hs (N, T, H), the hidden state at every step (h_1 ... h_T); cache the
    tuple (x, h0, Wx, Wh, hs, activation) for :func:`elman_backward`.

    The input projections x_t @ Wx + b of all steps are one matrix product; the steps write
    their states in place into a time-major buffer, whose batch-first view (N, T, H) is the
    cache's ``hs`` (the returned ``hs`` is a separate copy: it never aliases the cache).
    """
    x, h0, Wx, Wh, b = _check_params(x, h0, Wx, Wh, b, (None, None, None))
    get_activation(activation)  # ValueError for an unknown name
    act = _IN_PLACE[activation]
    N, T, D = x.shape
    H = Wh.shape[0]
    projected = (x.reshape(N * T, D) @ Wx).reshape(N, T, H)  # x_t Wx, batch first
    projected += b
    hs_tm = np.empty((T, N, H), dtype=x.dtype)
    h = h0
    for t in range(T):
        a = np.matmul(h, Wh, out=hs_tm[t])  # the recurrent part, then the input part added
        a += projected[:, t]
        h = act(a)
    hs = hs_tm.transpose(1, 0, 2)
    return np.ascontiguousarray(hs), (x, h0, Wx, Wh, hs, activation)


def elman_backward(dhs, cache):
    """Backpropagation through time for :func:`elman_forward`.

    Inputs: dhs (N, T, H), the gradient of the loss with respect to every h_t (from the
    layers above; the recurrence adds its own part); cache from the forward.
    Returns (dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)). Weight gradients are
    summed over all time steps, each one matrix product over all steps.
    """
    x, h0, Wx, Wh, hs, activation = cache
    dhs = check_shape("dhs", dhs, hs.shape)
    _, df = get_activation(activation)
    N, T, D = x.shape
    H = Wh.shape[0]
    dtype = hs.dtype
    hs_tm = np.ascontiguousarray(hs.transpose(1, 0, 2))  # no copy for the forward's own cache
    local = df(hs_tm)  # (T, N, H): d h_t / d a_t, from the outputs
    dhs_tm = dhs.transpose(1, 0, 2)
    das = np.empty((T, N, H), dtype=dtype)
    dh_next = np.zeros((N, H), dtype=dtype)  # gradient flowing back from step t+1
    Wh_T = np.ascontiguousarray(Wh.T)  # a contiguous copy: the per-step product is faster with it
    for t in reversed(range(T)):
        da = np.add(dhs_tm[t], dh_next, out=das[t])  # never written: dhs
        da *= local[t]
        np.matmul(da, Wh_T, out=dh_next)
    h_prevs = np.empty_like(das)  # h_{t-1} for every t, time major
    h_prevs[0], h_prevs[1:] = h0, hs_tm[:-1]
    dWh = h_prevs.reshape(T * N, H).T @ das.reshape(T * N, H)
    das_bf = np.ascontiguousarray(das.transpose(1, 0, 2)).reshape(N * T, H)
    dx = (das_bf @ Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ das_bf
    return dx, dh_next, dWx, dWh, das_bf.sum(axis=0)


def elman_state_function(Wx, Wh, b, activation="tanh"):
    """The Elman state function R(h_prev, x) = act(x @ Wx + h_prev @ Wh + b), for ``unroll``."""
    return lambda h_prev, x: elman_step_forward(x, h_prev, Wx, Wh, b, activation)[0]


def elman_output_function(Wy, by):
    """The Elman output function O(h) = softmax(h @ Wy + by): Wy (H, K), by (K,) -> (N, K)."""
    from .activations import softmax

    return lambda h: softmax(h @ Wy + by)
