r"""The layers around a recurrent core: embedding, temporal affine, masked softmax loss, clipping.

A character or word model reads token indices through an embedding, runs a recurrent network,
maps every hidden state to scores with the same affine layer (``y_t = h_t W_y + b_y``) and sums
the cross-entropy over the steps:

.. math::

    L = \frac{1}{N} \sum_{n=1}^{N} \sum_{t=1}^{T} m_{n,t}\,\bigl(-\log \mathrm{softmax}(s_{n,t})_{y_{n,t}}\bigr)

The loss is summed over time steps (the lectures' total loss :math:`\sum_t L_t`) and averaged
over the N sequences of the batch, as in CS231n. Summing over time makes the loss of a long
sequence the sum of the losses of its pieces, which is what truncated BPTT
(:mod:`rnn_ref.bptt`) relies on. The mean loss per real token, whose exponential is the
perplexity, is ``loss * N / mask.sum()``.
"""

from collections.abc import Mapping

import numpy as np

from .activations import softmax
from .shapes import check_shape, result_dtype


def _check_indices(name, idx, shape, size):
    """Integer array of ``shape`` with every entry in [0, size); ValueError otherwise."""
    idx = check_shape(name, idx, shape)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise ValueError(f"{name} has entries outside [0, {size}): min {idx.min()}, max {idx.max()}")
    return idx


def embedding_forward(idx, W):
    """Look up one row of W per token: out[n, t] = W[idx[n, t]].

    Inputs: idx (N, T) integers in [0, V); W (V, D).
    Returns (out, cache): out (N, T, D). Equal to one_hot(idx) @ W, without building the one-hot.
    """
    W = check_shape("W", W, (None, None))
    idx = _check_indices("idx", idx, (None, None), W.shape[0])
    return W[idx], (idx, W)


def embedding_backward(dout, cache):
    """Backward pass of :func:`embedding_forward`.

    Inputs: dout (N, T, D); cache from the forward.
    Returns dW (V, D): the rows of dout added into the row of each token (a token that occurs
    several times collects every occurrence). The indices get no gradient.
    """
    idx, W = cache
    V, D = W.shape
    dout = check_shape("dout", dout, idx.shape + (D,))
    dW = np.zeros((V, D), dtype=result_dtype(dout, W))
    np.add.at(dW, idx.reshape(-1), dout.reshape(-1, D))
    return dW


def temporal_affine_forward(x, W, b):
    """The same affine map at every step: out[:, t] = x[:, t] @ W + b.

    Inputs: x (N, T, H), W (H, K), b (K,).
    Returns (out, cache): out (N, T, K).
    """
    W = check_shape("W", W, (None, None))
    H, K = W.shape
    x = check_shape("x", x, (None, None, H))
    b = check_shape("b", b, (K,))
    N, T, _ = x.shape
    out = (x.reshape(N * T, H) @ W + b).reshape(N, T, K)
    return out, (x, W)


def temporal_affine_backward(dout, cache):
    """Backward pass of :func:`temporal_affine_forward`.

    Inputs: dout (N, T, K); cache from the forward.
    Returns (dx (N, T, H), dW (H, K), db (K,)), weight gradients summed over all steps.
    """
    x, W = cache
    N, T, H = x.shape
    K = W.shape[1]
    dout = check_shape("dout", dout, (N, T, K))
    d2 = dout.reshape(N * T, K)
    return (d2 @ W.T).reshape(N, T, H), x.reshape(N * T, H).T @ d2, d2.sum(axis=0)


def temporal_softmax_loss(scores, targets, mask=None):
    """Softmax cross-entropy at every step, summed over unmasked steps, averaged over N.

    Inputs: scores (N, T, K) unnormalised; targets (N, T) integers in [0, K); mask (N, T) bool,
    True where the step counts (None: every step counts). Masked steps may hold any target.
    Returns (loss, dscores): loss a float, dscores (N, T, K) its gradient (zero at masked steps).
    """
    scores = check_shape("scores", scores, (None, None, None))
    N, T, K = scores.shape
    mask = np.ones((N, T), dtype=bool) if mask is None else check_shape("mask", mask, (N, T)).astype(bool)
    targets = check_shape("targets", targets, (N, T))
    targets = _check_indices("targets (unmasked)", np.where(mask, targets, 0), (N, T), K)
    dtype = result_dtype(scores)
    scores = scores.astype(dtype, copy=False)
    shifted = scores - scores.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[:, :, None], axis=2)[:, :, 0]
    loss = -np.sum(picked * mask) / N
    dscores = np.exp(log_probs)  # softmax probabilities
    dscores[np.arange(N)[:, None], np.arange(T), targets] -= 1  # p - one_hot(target)
    dscores *= mask[:, :, None] / dtype.type(N)
    return float(loss), dscores


def clip_by_value(grads, clip):
    """Clip every entry of every gradient to [-clip, clip].

    Inputs: grads, a dict name -> array; clip > 0.
    Returns a new dict of new arrays; the input arrays are left untouched.
    """
    _check_grads(grads)
    if clip <= 0:
        raise ValueError(f"clip must be positive, got {clip}")
    return {name: np.clip(g, -clip, clip) for name, g in grads.items()}


def clip_global_norm(grads, max_norm, eps=1e-6):
    """Rescale all gradients together so that their joint L2 norm is at most ``max_norm``.

    The global norm is sqrt(sum of squares of every entry of every gradient). If it exceeds
    ``max_norm``, every gradient is multiplied by max_norm / (norm + eps) (torch's
    ``clip_grad_norm_`` rule, eps included), which keeps the direction of the update.
    Inputs: grads, a dict name -> array; max_norm > 0.
    Returns (clipped, total_norm): a new dict of new arrays and the norm before clipping.
    """
    _check_grads(grads)
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    total_norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))
    scale = min(1.0, max_norm / (total_norm + eps))
    return {name: g * np.asarray(scale, dtype=g.dtype) for name, g in grads.items()}, total_norm


def _check_grads(grads):
    if not isinstance(grads, Mapping):
        raise ValueError(f"grads must be a dict name -> array, got {type(grads).__name__}")
