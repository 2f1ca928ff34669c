r"""Backpropagation through time, full and truncated, for a character-level language model.

The model is an Elman RNN with a softmax output at every step, trained to predict y_t from
x_1 ... x_t:

.. math::

    h_t = \tanh(x_t W_x + h_{t-1} W_h + b), \qquad u_t = h_t W_y + b_y, \qquad
    L = \frac{1}{N} \sum_n \sum_t -\log \mathrm{softmax}(u_t)_{y_t}

Full BPTT differentiates L through every step back to h_0. Truncated BPTT with window k cuts
the sequence into chunks of k steps. Each chunk starts from the hidden state the previous chunk
ended in (the forward computation is the same as the full one) but treats that state as a
constant, so no gradient flows across a chunk border: a gradient then reaches back at most k
steps, and the cost of one backward pass no longer grows with the sequence length.
Because L sums over the steps, the loss of the whole sequence is the sum of the chunk losses.

params is a dict: Wx (D, H), Wh (H, H), b (H,), Wy (H, K), by (K,). Inputs x (N, T, D) are
vectors (the one-hot characters of :func:`rnn_ref.vocab.one_hot`, or embeddings), targets
y (N, T) integers in [0, K) (for a language model, the next character).
"""

import numpy as np

from .elman import elman_backward, elman_forward
from .layers import temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss
from .shapes import check_shape


def full_bptt(params, x, y, h0):
    """Loss and gradients of the whole sequence, backpropagated through every step.

    Inputs: params {Wx (D, H), Wh (H, H), b (H,), Wy (H, K), by (K,)}; x (N, T, D);
    y (N, T) integers; h0 (N, H), treated as a constant.
    Returns (loss, grads, h_last): loss a float; grads a dict with the keys of params, each
    of its parameter's shape; h_last (N, H), the hidden state after the last step.
    """
    hs, rnn_cache = elman_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    scores, affine_cache = temporal_affine_forward(hs, params["Wy"], params["by"])
    loss, dscores = temporal_softmax_loss(scores, y)
    dhs, dWy, dby = temporal_affine_backward(dscores, affine_cache)
    _, _, dWx, dWh, db = elman_backward(dhs, rnn_cache)  # dx and dh0 are not needed
    return loss, {"Wx": dWx, "Wh": dWh, "b": db, "Wy": dWy, "by": dby}, hs[:, -1]


def truncated_bptt(params, x, y, h0, k):
    """Truncated BPTT: the sequence in chunks of k steps, state carried, gradients cut at borders.

    Inputs: as :func:`full_bptt`, and k >= 1, the number of steps per chunk (the last chunk may
    be shorter). With k >= T this is full BPTT.
    Returns (loss, grads, h_last): the loss of the whole sequence (the sum of the chunk losses),
    the sum of the chunks' gradients with each chunk's initial state held constant, and the
    hidden state after the last step (the same as full BPTT's).
    """
    x = check_shape("x", x, (None, None, None))
    T = x.shape[1]
    y = check_shape("y", y, x.shape[:2])
    if not (isinstance(k, (int, np.integer)) and k >= 1):
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    loss, grads, h = 0.0, {name: np.zeros_like(p) for name, p in params.items()}, h0
    for start in range(0, T, k):
        chunk_loss, chunk_grads, h = full_bptt(params, x[:, start:start + k], y[:, start:start + k], h)
        loss += chunk_loss
        for name, g in chunk_grads.items():
            grads[name] += g
    return loss, grads, h
