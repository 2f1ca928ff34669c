r"""The long short-term memory (LSTM) cell: a gated memory c_t next to the hidden state h_t.

In the book's notation, with row vectors, a batch of N sequences and
:math:`\sigma` the logistic function:

.. math::

    i_t &= \sigma(x_t W_{xi} + h_{t-1} W_{hi} + b_i)        && \text{input gate} \\
    f_t &= \sigma(x_t W_{xf} + h_{t-1} W_{hf} + b_f)        && \text{forget gate} \\
    g_t &= \tanh(x_t W_{xg} + h_{t-1} W_{hg} + b_g)         && \text{candidate cell} \\
    o_t &= \sigma(x_t W_{xo} + h_{t-1} W_{ho} + b_o)        && \text{output gate} \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
    h_t &= o_t \odot \tanh(c_t)

x_t (N, D); h_t, c_t and every gate (N, H). The four gate matrices sit side by side in
``Wx = [W_xi | W_xf | W_xg | W_xo]`` (D, 4H), ``Wh`` (H, 4H) and ``b`` (4H,), in PyTorch's
order i, f, g, o, so that ``rnn_ref.torch_interop`` maps them to ``nn.LSTM`` without
reordering (torch keeps two biases; their sum is ``b``).

The cell update c_t is a plain sum with no squashing function: one of the course's slide
decks wraps it in a sigmoid, which is a mistake (the memory could then never exceed 1 and
the additive path that carries gradients over long distances would be lost).
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .activations import sigmoid
from .shapes import check_shape, result_dtype


def _check_params(x, h_prev, c_prev, Wx, Wh, b, sequence):
    """Validate shapes for the step (x (N, D)) or the sequence (x (N, T, D)) forward; cast to one dtype."""
    Wh = check_shape("Wh", Wh, (None, None))
    H = Wh.shape[0]
    Wh = check_shape("Wh", Wh, (H, 4 * H))
    Wx = check_shape("Wx", Wx, (None, 4 * H))
    D = Wx.shape[0]
    x = check_shape("x", x, (None, None, D) if sequence else (None, D))
    N = x.shape[0]
    h_prev = check_shape("h0" if sequence else "h_prev", h_prev, (N, H))
    if c_prev is None:
        c_prev = np.zeros((N, H), dtype=result_dtype(x, h_prev, Wx, Wh, b))
    c_prev = check_shape("c0" if sequence else "c_prev", c_prev, (N, H))
    b = check_shape("b", b, (4 * H,))
    dtype = result_dtype(x, h_prev, c_prev, Wx, Wh, b)
    return [a.astype(dtype, copy=False) for a in (x, h_prev, c_prev, Wx, Wh, b)]


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_backward` needs: the step's inputs and gate activations, each (N, H)."""

    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step, written as the equations above.

    Inputs: x (N, D), h_prev (N, H), c_prev (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,).
    Returns (h, c, cache): h and c (N, H); cache (an :class:`LSTMStepCache`) for
    :func:`lstm_step_backward`, whose fields i, f, g, o, c, tanh_c are the step's activations.
    """
    x, h_prev, c_prev, Wx, Wh, b = _check_params(x, h_prev, c_prev, Wx, Wh, b, sequence=False)
    H = Wh.shape[0]
    a = x @ Wx + h_prev @ Wh + b  # (N, 4H): the four pre-activations side by side
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, c, tanh_c)


def lstm_step_backward(dh, dc, cache):
    """Backward pass of one LSTM step.

    Inputs: dh (N, H) and dc (N, H), the loss gradients with respect to the step's outputs h and
    c; cache from :func:`lstm_step_forward`.
    Returns (dx (N, D), dh_prev (N, H), dc_prev (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)).
    """
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, c, tanh_c = cache
    dh = check_shape("dh", dh, c.shape)
    dc = check_shape("dc", dc, c.shape)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)  # c reaches the loss directly and through h
    da = np.concatenate(
        [
            dc_total * g * i * (1 - i),  # through i = sigma(a_i)
            dc_total * c_prev * f * (1 - f),  # through f = sigma(a_f)
            dc_total * i * (1 - g * g),  # through g = tanh(a_g)
            dh * tanh_c * o * (1 - o),  # through o = sigma(a_o)
        ],
        axis=1,
    )
    return da @ Wx.T, da @ Wh.T, dc_total * f, x.T @ da, h_prev.T @ da, da.sum(axis=0)


@dataclass(frozen=True)
class LSTMCache:
    """What :func:`lstm_forward` keeps for :func:`lstm_backward`.

    Stored time major (axis 0 is time, so each step reads one contiguous block):
    x_tm (T, N, D); h_tm and c_tm (T + 1, N, H) holding h_0 ... h_T and c_0 ... c_T;
    gates_tm (T, N, 4H), the activations i, f, g, o side by side; tanh_c_tm (T, N, H).
    The properties i, f, g, o, c (c_1 ... c_T) and tanh_c give batch-first views (N, T, H)
    for plots and checks; they are read-only views of the cache, not copies.
    """

    x_tm: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    h_tm: np.ndarray
    c_tm: np.ndarray
    gates_tm: np.ndarray
    tanh_c_tm: np.ndarray

    def _batch_first(self, a):
        view = a.transpose(1, 0, 2)
        view.flags.writeable = False
        return view

    def _gate(self, k):
        H = self.Wh.shape[0]
        return self._batch_first(self.gates_tm[:, :, k * H:(k + 1) * H])

    i = property(lambda self: self._gate(0), doc="input gate (N, T, H)")
    f = property(lambda self: self._gate(1), doc="forget gate (N, T, H)")
    g = property(lambda self: self._gate(2), doc="candidate cell (N, T, H)")
    o = property(lambda self: self._gate(3), doc="output gate (N, T, H)")
    c = property(lambda self: self._batch_first(self.c_tm[1:]), doc="cell states c_1 ... c_T (N, T, H)")
    tanh_c = property(lambda self: self._batch_first(self.tanh_c_tm), doc="tanh(c_t) (N, T, H)")


def _sigmoid_scale(H, dtype):
    """Per-column (scale, offset) of the 4H gate block: sigmoid(a) = 0.5 * tanh(0.5 a) + 0.5.

    Scaling the i, f, o columns of the weights by 0.5 (exact in floating point) lets one tanh
    call over all four blocks give tanh(a_g) and tanh(a / 2) for the sigmoid gates; then
    ``tanh * scale + offset`` turns the latter into the gate values and leaves g unchanged.
    """
    scale = np.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H:3 * H] = 1
    offset = np.full(4 * H, 0.5, dtype=dtype)
    offset[2 * H:3 * H] = 0
    return scale, offset


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """Run the LSTM over a whole sequence.

    Inputs: x (N, T, D), h0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,), c0 (N, H) or None for zeros.
    Returns (hs, cache): hs (N, T, H), the hidden states h_1 ... h_T; cache an
    :class:`LSTMCache` (its properties give every gate's activations).

    Computes :func:`lstm_step_forward` at every step (equal up to rounding), arranged for
    speed: the input projections of all steps are one matrix product, one tanh call per step
    gives all four gates (see :func:`_sigmoid_scale`), and each step works in place on
    preallocated time-major buffers (never on the caller's arrays).
    """
    x, h0, c0, Wx, Wh, b = _check_params(x, h0, c0, Wx, Wh, b, sequence=True)
    N, T, D = x.shape
    H = Wh.shape[0]
    dtype = x.dtype
    scale, offset = _sigmoid_scale(H, dtype)
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D)
    gates = np.empty((T, N, 4 * H), dtype=dtype)
    np.matmul(x_tm.reshape(T * N, D), Wx * scale, out=gates.reshape(T * N, 4 * H))
    Wh_scaled, b_scaled = Wh * scale, b * scale
    hs = np.empty((T + 1, N, H), dtype=dtype)
    cs = np.empty((T + 1, N, H), dtype=dtype)
    tanh_cs = np.empty((T, N, H), dtype=dtype)
    hs[0], cs[0] = h0, c0
    recurrent = np.empty((N, 4 * H), dtype=dtype)
    ig = np.empty((N, H), dtype=dtype)
    for t in range(T):
        a = gates[t]  # (N, 4H) input part of the pre-activations (scaled), becomes the gates
        a += np.matmul(hs[t], Wh_scaled, out=recurrent)
        a += b_scaled  # added per step, where the block is in cache, not in one pass over all T
        np.tanh(a, out=a)  # tanh(a_g), and tanh(a / 2) in the sigmoid blocks
        a *= scale
        a += offset  # i, f, o = (1 + tanh(a / 2)) / 2
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, cs[t], out=cs[t + 1])
        cs[t + 1] += np.multiply(i, g, out=ig)
        np.tanh(cs[t + 1], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t + 1])
    cache = LSTMCache(x_tm, Wx, Wh, hs, cs, gates, tanh_cs)
    return np.ascontiguousarray(hs[1:].transpose(1, 0, 2)), cache


def lstm_backward(dhs, cache):
    """Backpropagation through time for :func:`lstm_forward`.

    Inputs: dhs (N, T, H), the loss gradient with respect to every h_t from the layers above
    (the recurrence adds its own part); cache from the forward.
    Returns (dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,), dc0 (N, H)): the
    order of the forward's inputs (x, h0, Wx, Wh, b, c0). dc0 is returned even when c0 was
    None (it is then the gradient with respect to the zero initial cell). Weight gradients
    are one matrix product over all steps.
    """
    x_tm, Wx, Wh, hs, cs, gates, tanh_cs = (
        cache.x_tm, cache.Wx, cache.Wh, cache.h_tm, cache.c_tm, cache.gates_tm, cache.tanh_c_tm
    )
    T, N, D = x_tm.shape
    H = Wh.shape[0]
    dhs = check_shape("dhs", dhs, (N, T, H)).astype(hs.dtype, copy=False).transpose(1, 0, 2)
    das = np.empty_like(gates)
    dh_next = np.zeros((N, H), dtype=hs.dtype)  # gradient reaching h_t from step t+1
    dc = np.zeros((N, H), dtype=hs.dtype)  # gradient reaching c_t
    local = np.empty((N, 4 * H), dtype=hs.dtype)  # derivatives of the gates, one step
    tmp = np.empty((N, H), dtype=hs.dtype)
    Wh_T = np.ascontiguousarray(Wh.T)  # a contiguous copy: the per-step product is faster with it
    for t in reversed(range(T)):
        a = gates[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        da = das[t]
        dh = dhs[t] + dh_next
        # dc_t += dh_t o (1 - tanh^2 c_t)
        np.multiply(tanh_cs[t], tanh_cs[t], out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        dc += tmp
        np.multiply(dc, g, out=da[:, :H])  # di
        np.multiply(dc, cs[t], out=da[:, H:2 * H])  # df (cs[t] is c_{t-1})
        np.multiply(dc, i, out=da[:, 2 * H:3 * H])  # dg
        np.multiply(dh, tanh_cs[t], out=da[:, 3 * H:])  # do
        # sigma' = s (1 - s) for i, f, o; tanh' = 1 - g^2 for g
        np.subtract(1, a, out=local)
        local *= a
        lg = local[:, 2 * H:3 * H]
        np.multiply(g, g, out=lg)
        np.subtract(1, lg, out=lg)
        da *= local  # now the gradient of the pre-activations a_t
        dc *= f  # dc_{t-1}
        np.matmul(da, Wh_T, out=dh_next)
    das = das.reshape(T * N, 4 * H)
    dx = np.ascontiguousarray((das @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    dWx = x_tm.reshape(T * N, D).T @ das
    dWh = hs[:-1].reshape(T * N, H).T @ das
    return dx, dh_next, dWx, dWh, das.sum(axis=0), dc


def lstm_state_function(Wx, Wh, b):
    """The LSTM state function R((h_prev, c_prev), x) -> (h, c), for ``abstraction.unroll``.

    The state is the pair (h, c); ``abstraction.identity_output`` reads h from it.
    """

    def R(state, x):
        h, c, _ = lstm_step_forward(x, state[0], state[1], Wx, Wh, b)
        return h, c

    return R
