r"""The gated recurrent unit (GRU): a reset gate and an update gate, no separate memory.

In the book's notation, with row vectors, a batch of N sequences and :math:`\sigma` the
logistic function, PyTorch's GRU (``reset="after"``, the default) is

.. math::

    r_t &= \sigma(x_t W_{xr} + b_{xr} + h_{t-1} W_{hr} + b_{hr})      && \text{reset gate} \\
    z_t &= \sigma(x_t W_{xz} + b_{xz} + h_{t-1} W_{hz} + b_{hz})      && \text{update gate} \\
    n_t &= \tanh(x_t W_{xn} + b_{xn} + r_t \odot (h_{t-1} W_{hn} + b_{hn}))  && \text{candidate} \\
    h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

and the variant of Cho et al. (2014) and many textbooks (``reset="before"``) resets the old
state before it enters the candidate:

.. math::

    n_t = \tanh(x_t W_{xn} + b_{xn} + (r_t \odot h_{t-1}) W_{hn} + b_{hn})

The two placements are different functions (neither is an approximation of the other); torch
and cuDNN use the first, because it lets one matrix product h_{t-1} W_h serve all three gates.

x_t (N, D); h_t and every gate (N, H). The gate matrices sit side by side in
``Wx = [W_xr | W_xz | W_xn]`` (D, 3H) and ``Wh`` (H, 3H), in PyTorch's order r, z, n, with
separate input and hidden biases ``bx`` and ``bh`` (3H,) as torch keeps them: in the
reset-after form b_hn sits inside the reset product, so the two biases cannot be merged.

Convention for the update gate: z_t multiplies the *old* state h_{t-1}, as in torch and in
one of the course's slide decks; z_t close to 1 keeps the memory. Two other decks write
h_t = (1 - z_t) h_{t-1} + z_t \tilde h_t, with z on the new candidate: the same network with
z replaced by 1 - z (the gate's weights and bias negated).
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .activations import sigmoid
from .shapes import check_shape, result_dtype

RESETS = ("after", "before")


def _check_params(x, h_prev, Wx, Wh, bx, bh, reset, sequence):
    """Validate shapes and ``reset`` for the step (x (N, D)) or sequence (x (N, T, D)) forward."""
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    Wh = check_shape("Wh", Wh, (None, None))
    H = Wh.shape[0]
    Wh = check_shape("Wh", Wh, (H, 3 * H))
    Wx = check_shape("Wx", Wx, (None, 3 * H))
    D = Wx.shape[0]
    x = check_shape("x", x, (None, None, D) if sequence else (None, D))
    N = x.shape[0]
    h_prev = check_shape("h0" if sequence else "h_prev", h_prev, (N, H))
    bx = check_shape("bx", bx, (3 * H,))
    bh = check_shape("bh", bh, (3 * H,))
    dtype = result_dtype(x, h_prev, Wx, Wh, bx, bh)
    return [a.astype(dtype, copy=False) for a in (x, h_prev, Wx, Wh, bx, bh)]


class GRUStepCache(NamedTuple):
    """What :func:`gru_step_backward` needs. r, z, n (N, H) are the gates; ``hn`` (N, H) is the
    hidden part of the candidate's pre-activation: h_prev W_hn + b_hn ("after") or
    (r h_prev) W_hn + b_hn ("before")."""

    x: np.ndarray
    h_prev: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    hn: np.ndarray
    reset: str


def gru_step_forward(x, h_prev, Wx, Wh, bx, bh, reset="after"):
    """One GRU step, written as the equations above.

    Inputs: x (N, D), h_prev (N, H), Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,);
    reset 'after' (torch) or 'before' (Cho et al.).
    Returns (h, cache): h (N, H); cache (a :class:`GRUStepCache`) for :func:`gru_step_backward`.
    """
    x, h_prev, Wx, Wh, bx, bh = _check_params(x, h_prev, Wx, Wh, bx, bh, reset, sequence=False)
    H = Wh.shape[0]
    ax = x @ Wx + bx  # (N, 3H) input parts of the three pre-activations
    ah = h_prev @ Wh[:, :2 * H] + bh[:2 * H]  # (N, 2H) hidden parts of r and z
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:])
    if reset == "after":
        hn = h_prev @ Wh[:, 2 * H:] + bh[2 * H:]
        n = np.tanh(ax[:, 2 * H:] + r * hn)
    else:
        hn = (r * h_prev) @ Wh[:, 2 * H:] + bh[2 * H:]
        n = np.tanh(ax[:, 2 * H:] + hn)
    h = (1 - z) * n + z * h_prev
    return h, GRUStepCache(x, h_prev, Wx, Wh, r, z, n, hn, reset)


def gru_step_backward(dh, cache):
    """Backward pass of one GRU step.

    Inputs: dh (N, H), the loss gradient with respect to h; cache from :func:`gru_step_forward`.
    Returns (dx (N, D), dh_prev (N, H), dWx (D, 3H), dWh (H, 3H), dbx (3H,), dbh (3H,)).
    """
    x, h_prev, Wx, Wh, r, z, n, hn, reset = cache
    dh = check_shape("dh", dh, n.shape)
    H = n.shape[1]
    dan = dh * (1 - z) * (1 - n * n)  # gradient of the candidate's pre-activation
    daz = dh * (h_prev - n) * z * (1 - z)
    dh_prev = dh * z
    if reset == "after":
        dar = dan * hn * r * (1 - r)
        dah_n = dan * r  # gradient of hn = h_prev W_hn + b_hn
        dWh_n = h_prev.T @ dah_n
    else:
        dhr = dan @ Wh[:, 2 * H:].T  # gradient of r * h_prev
        dar = dhr * h_prev * r * (1 - r)
        dah_n = dan
        dWh_n = (r * h_prev).T @ dan
        dh_prev += dhr * r
    dax = np.concatenate([dar, daz, dan], axis=1)
    dah_rz = dax[:, :2 * H]
    dh_prev += dah_rz @ Wh[:, :2 * H].T
    if reset == "after":
        dh_prev += dah_n @ Wh[:, 2 * H:].T
    dWh = np.concatenate([h_prev.T @ dah_rz, dWh_n], axis=1)
    dbh = np.concatenate([dah_rz.sum(axis=0), dah_n.sum(axis=0)])
    return dax @ Wx.T, dh_prev, x.T @ dax, dWh, dax.sum(axis=0), dbh


@dataclass(frozen=True)
class GRUCache:
    """What :func:`gru_forward` keeps for :func:`gru_backward`.

    Stored time major (axis 0 is time): x_tm (T, N, D); h_tm (T + 1, N, H) holding
    h_0 ... h_T; gates_tm (T, N, 3H), the activations r, z, n side by side; hn_tm (T, N, H),
    the hidden part of the candidate's pre-activation (see :class:`GRUStepCache`).
    The properties r, z, n give batch-first read-only views (N, T, H).
    """

    x_tm: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    h_tm: np.ndarray
    gates_tm: np.ndarray
    hn_tm: np.ndarray
    reset: str

    def _gate(self, k):
        H = self.Wh.shape[0]
        view = self.gates_tm[:, :, k * H:(k + 1) * H].transpose(1, 0, 2)
        view.flags.writeable = False
        return view

    r = property(lambda self: self._gate(0), doc="reset gate (N, T, H)")
    z = property(lambda self: self._gate(1), doc="update gate (N, T, H)")
    n = property(lambda self: self._gate(2), doc="candidate state (N, T, H)")


def gru_forward(x, h0, Wx, Wh, bx, bh, reset="after"):
    """Run the GRU over a whole sequence.

    Inputs: x (N, T, D), h0 (N, H), Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,);
    reset 'after' (torch) or 'before' (Cho et al.).
    Returns (hs, cache): hs (N, T, H), the hidden states h_1 ... h_T; cache a :class:`GRUCache`.

    Computes :func:`gru_step_forward` at every step (equal up to rounding), arranged for
    speed: the input projections of all steps are one matrix product, the sigmoids are tanh
    calls on weights pre-scaled by 0.5 (sigmoid(a) = 0.5 tanh(a / 2) + 0.5, and scaling by 0.5
    is exact), and each step works in place on preallocated time-major buffers (never on the
    caller's arrays).
    """
    x, h0, Wx, Wh, bx, bh = _check_params(x, h0, Wx, Wh, bx, bh, reset, sequence=True)
    N, T, D = x.shape
    H = Wh.shape[0]
    dtype = x.dtype
    scale = np.ones(3 * H, dtype=dtype)
    scale[:2 * H] = 0.5  # r and z columns
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D)
    ax = np.empty((T, N, 3 * H), dtype=dtype)
    np.matmul(x_tm.reshape(T * N, D), Wx * scale, out=ax.reshape(T * N, 3 * H))
    Wh_scaled, bx_scaled, bh_scaled = Wh * scale, bx * scale, bh * scale
    # Biases added to the input parts each step: both biases of r and z (they are summed in
    # either form), and b_xn; b_hn belongs to the hidden part of the candidate (hn).
    bias = bx_scaled.copy()
    bias[:2 * H] += bh_scaled[:2 * H]
    bh_n = bh[2 * H:]
    hs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0] = h0
    hn = np.empty((T, N, H), dtype=dtype)
    ah = np.empty((N, 3 * H), dtype=dtype)  # hidden parts of the pre-activations, one step
    if reset == "before":
        Wh_rz, Wh_n = np.ascontiguousarray(Wh_scaled[:, :2 * H]), np.ascontiguousarray(Wh[:, 2 * H:])
        rh = np.empty((N, H), dtype=dtype)
    for t in range(T):
        a = ax[t]  # (N, 3H): input parts, becomes the gates r, z, n
        a += bias  # per step, where the block is in cache
        h = hs[t]
        if reset == "after":
            np.matmul(h, Wh_scaled, out=ah)
            a[:, :2 * H] += ah[:, :2 * H]
        else:
            a[:, :2 * H] += np.matmul(h, Wh_rz, out=ah[:, :2 * H])
        rz = a[:, :2 * H]
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        if reset == "after":
            np.add(ah[:, 2 * H:], bh_n, out=hn[t])
            n += np.multiply(r, hn[t], out=ah[:, 2 * H:])
        else:
            np.matmul(np.multiply(r, h, out=rh), Wh_n, out=hn[t])
            hn[t] += bh_n
            n += hn[t]
        np.tanh(n, out=n)
        h_new = hs[t + 1]
        np.subtract(h, n, out=h_new)  # h_t = n + z (h_{t-1} - n)
        h_new *= z
        h_new += n
    cache = GRUCache(x_tm, Wx, Wh, hs, ax, hn, reset)
    return np.ascontiguousarray(hs[1:].transpose(1, 0, 2)), cache


def gru_backward(dhs, cache):
    """Backpropagation through time for :func:`gru_forward`.

    Inputs: dhs (N, T, H), the loss gradient with respect to every h_t from the layers above;
    cache from the forward.
    Returns (dx (N, T, D), dh0 (N, H), dWx (D, 3H), dWh (H, 3H), dbx (3H,), dbh (3H,)).
    Weight gradients are matrix products over all steps at once.
    """
    x_tm, Wx, Wh, hs, gates, hn, reset = (
        cache.x_tm, cache.Wx, cache.Wh, cache.h_tm, cache.gates_tm, cache.hn_tm, cache.reset
    )
    T, N, D = x_tm.shape
    H = Wh.shape[0]
    dtype = hs.dtype
    dhs = check_shape("dhs", dhs, (N, T, H)).astype(dtype, copy=False).transpose(1, 0, 2)
    r, z, n = gates[:, :, :H], gates[:, :, H:2 * H], gates[:, :, 2 * H:]
    h_prev = hs[:-1]
    # Local factors for all steps at once (none depends on the incoming gradient).
    dn_local = (1 - z) * (1 - n * n)  # d h_t / d a_n
    dz_local = (h_prev - n) * z * (1 - z)  # d h_t / d a_z
    dr_local = r * (1 - r) * (hn if reset == "after" else h_prev)
    dah = np.empty_like(gates)  # gradients of the hidden parts of the pre-activations
    dan = np.empty_like(hn)  # gradients of the candidate's pre-activation
    dh_next = np.zeros((N, H), dtype=dtype)  # gradient reaching h_t from step t+1
    dhr = np.empty((N, H), dtype=dtype)
    # contiguous copies of the transposes: the per-step products are faster with them
    Wh_T, Wh_rz_T, Wh_n_T = (np.ascontiguousarray(W.T) for W in (Wh, Wh[:, :2 * H], Wh[:, 2 * H:]))
    for t in reversed(range(T)):
        dh = dhs[t] + dh_next
        np.multiply(dh, dn_local[t], out=dan[t])
        np.multiply(dh, dz_local[t], out=dah[t, :, H:2 * H])
        np.multiply(dh, z[t], out=dh_next)  # the direct path z * h_prev
        if reset == "after":
            np.multiply(dan[t], dr_local[t], out=dah[t, :, :H])
            np.multiply(dan[t], r[t], out=dah[t, :, 2 * H:])
            dh_next += dah[t] @ Wh_T
        else:
            np.matmul(dan[t], Wh_n_T, out=dhr)  # gradient of r * h_prev
            np.multiply(dhr, dr_local[t], out=dah[t, :, :H])
            dh_next += dah[t, :, :2 * H] @ Wh_rz_T
            dh_next += np.multiply(dhr, r[t], out=dhr)
    dah, dan, h_prev = dah.reshape(T * N, 3 * H), dan.reshape(T * N, H), h_prev.reshape(T * N, H)
    if reset == "after":
        dax = np.concatenate([dah[:, :2 * H], dan], axis=1)
        dWh = h_prev.T @ dah
    else:
        dah[:, 2 * H:] = dan  # hn = (r h_prev) W_hn + b_hn: its gradient is da_n itself
        dax = dah
        rh_prev = r.reshape(T * N, H) * h_prev
        dWh = np.concatenate([h_prev.T @ dah[:, :2 * H], rh_prev.T @ dan], axis=1)
    dx = np.ascontiguousarray((dax @ Wx.T).reshape(T, N, D).transpose(1, 0, 2))
    dWx = x_tm.reshape(T * N, D).T @ dax
    return dx, dh_next, dWx, dWh, dax.sum(axis=0), dah.sum(axis=0)


def gru_state_function(Wx, Wh, bx, bh, reset="after"):
    """The GRU state function R(h_prev, x) -> h, for ``abstraction.unroll``."""
    return lambda h_prev, x: gru_step_forward(x, h_prev, Wx, Wh, bx, bh, reset)[0]
