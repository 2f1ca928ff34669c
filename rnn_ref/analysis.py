r"""Vanishing and exploding gradients: the Jacobians a gradient is multiplied by on its way back.

For the Elman RNN :math:`h_t = \tanh(x_t W_x + h_{t-1} W_h + b)` with row vectors, one step
back multiplies by the Jacobian (entry [i, j] is :math:`\partial h_{t,i} / \partial h_{t-1,j}`)

.. math::

    J_t = \frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}(1 - h_t^2)\, W_h^\top ,

the transpose because :math:`W_h` multiplies from the right. Over a distance t - k,

.. math::

    \frac{\partial h_t}{\partial h_k} = J_t J_{t-1} \cdots J_{k+1},

a product of t - k matrices. Since :math:`|1 - h^2| \le 1`, its norm is at most
:math:`\|W_h\|_2^{\,t-k}`: it shrinks geometrically when the largest singular value of
:math:`W_h` is below 1. The spectral radius (largest \|eigenvalue\|) of :math:`W_h` decides
whether repeated multiplication by :math:`W_h^\top` shrinks or grows a vector in the long run.

The LSTM's cell state has an additive path, :math:`c_t = f_t \odot c_{t-1} + i_t \odot g_t`:
along it :math:`\partial c_t / \partial c_k = \mathrm{diag}(f_t \odot \cdots \odot f_{k+1})`,
a product of forget gates with no weight matrix in it, which stays near 1 while the gates are
open.
"""

import numpy as np

from .activations import get_activation, sigmoid
from .shapes import check_shape


def elman_step_jacobians(hs, Wh, activation="tanh"):
    """The Jacobians dh_t/dh_{t-1} = diag(act'(h_t)) Wh^T of an Elman run, every sequence and step.

    Inputs: hs (N, T, H), the hidden states h_1 ... h_T from :func:`rnn_ref.elman.elman_forward`;
    Wh (H, H); activation 'tanh' or 'relu' (as in the forward).
    Returns J (N, T, H, H) with J[n, t-1] = dh_t/dh_{t-1} for t = 1 ... T (entry [i, j] is
    d h_t[i] / d h_{t-1}[j]), i.e. J[:, s] maps a change of h_s (h_0 for s = 0) to one of h_{s+1}.
    """
    hs = check_shape("hs", hs, (None, None, None))
    Wh = check_shape("Wh", Wh, (hs.shape[2], hs.shape[2]))
    _, df = get_activation(activation)
    return df(hs)[..., :, None] * Wh.T


def jacobian_product(jacobians, t, k):
    """dh_t/dh_k = J_t J_{t-1} ... J_{k+1} for 0 <= k <= t <= T (the identity when t == k).

    Inputs: jacobians (N, T, H, H) from :func:`elman_step_jacobians`; integers t, k.
    Returns (N, H, H).
    """
    jacobians = check_shape("jacobians", jacobians, (None, None, None, None))
    N, T, H, _ = jacobians.shape
    if not 0 <= k <= t <= T:
        raise ValueError(f"need 0 <= k <= t <= T={T}, got t={t}, k={k}")
    product = np.broadcast_to(np.eye(H, dtype=jacobians.dtype), (N, H, H)).copy()
    for s in range(t, k, -1):  # J_t, then J_{t-1}, ... on the right
        product = product @ jacobians[:, s - 1]
    return product


def norms_by_distance(jacobians, norm="spectral"):
    """Norms of dh_T/dh_{T-d} for every distance d = 0 ... T, from the last step backwards.

    Inputs: jacobians (N, T, H, H) from :func:`elman_step_jacobians`; norm 'spectral' (largest
    singular value) or 'fro' (Frobenius).
    Returns (N, T + 1): column d holds the norm for each sequence (column 0: the identity).
    """
    jacobians = check_shape("jacobians", jacobians, (None, None, None, None))
    if norm not in ("spectral", "fro"):
        raise ValueError(f"norm must be 'spectral' or 'fro', got {norm!r}")
    N, T, H, _ = jacobians.shape
    ord_ = 2 if norm == "spectral" else "fro"
    product = np.broadcast_to(np.eye(H, dtype=jacobians.dtype), (N, H, H)).copy()
    norms = [np.linalg.norm(product, ord=ord_, axis=(1, 2))]
    for d in range(1, T + 1):
        product = product @ jacobians[:, T - d]  # append J_{T-d+1} on the right
        norms.append(np.linalg.norm(product, ord=ord_, axis=(1, 2)))
    return np.stack(norms, axis=1)


def spectral_radius(W):
    """The largest absolute eigenvalue of a square matrix W (H, H). Returns a float."""
    W = check_shape("W", W, (None, None))
    W = check_shape("W", W, (W.shape[0], W.shape[0]))
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def with_spectral_radius(W, radius):
    """W (H, H) rescaled to the given spectral radius (a new array): W * radius / rho(W)."""
    rho = spectral_radius(W)
    if rho == 0:
        raise ValueError("W has spectral radius 0 (nilpotent) and cannot be rescaled")
    return W * (radius / rho)


def random_recurrent_matrix(H, radius, rng):
    """A Gaussian (H, H) matrix rescaled to spectral radius ``radius``, drawn from ``rng``.

    rng: a numpy Generator or an int seed. For the book's plot of ||dh_t/dh_k|| against t - k
    for several radii.
    """
    rng = np.random.default_rng(rng)
    return with_spectral_radius(rng.standard_normal((H, H)) / np.sqrt(H), radius)


def lstm_forget_gates(x, h0, Wx, Wh, b, hs):
    """The forget gates f_1 ... f_T of an LSTM run, recomputed from its hidden states.

    Inputs: x (N, T, D), h0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,) as given to
    :func:`rnn_ref.lstm.lstm_forward`, and hs (N, T, H) the states it returned.
    Returns f (N, T, H): f[:, t-1] = sigmoid(x_t Wx_f + h_{t-1} Wh_f + b_f), the block i, [f], g, o.
    """
    hs = check_shape("hs", hs, (None, None, None))
    N, T, H = hs.shape
    x = check_shape("x", x, (N, T, None))
    Wx = check_shape("Wx", Wx, (x.shape[2], 4 * H))
    Wh = check_shape("Wh", Wh, (H, 4 * H))
    b = check_shape("b", b, (4 * H,))
    h0 = check_shape("h0", h0, (N, H))
    h_prevs = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)  # h_{t-1} for every t
    f = slice(H, 2 * H)
    return sigmoid(x @ Wx[:, f] + h_prevs @ Wh[:, f] + b[f])


def cell_path_by_distance(forget_gates):
    """The additive path's Jacobian dc_T/dc_{T-d} = diag(f_T * ... * f_{T-d+1}) for d = 0 ... T.

    Inputs: forget_gates (N, T, H), e.g. from :func:`lstm_forget_gates`.
    Returns (N, T + 1, H): entry [:, d] is the diagonal for distance d (all ones for d = 0).
    This is the path through c alone; the paths through h (gates depending on h_{t-1}) add to it.
    """
    f = check_shape("forget_gates", forget_gates, (None, None, None))
    N, T, H = f.shape
    reversed_products = np.cumprod(f[:, ::-1], axis=1)  # f_T, f_T f_{T-1}, ...
    return np.concatenate([np.ones((N, 1, H), dtype=f.dtype), reversed_products], axis=1)
