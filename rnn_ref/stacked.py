r"""Stacked (deep) RNNs: the hidden states of one recurrent layer are the inputs of the next.

.. math::

    h^{(1)}_t = R^{(1)}(h^{(1)}_{t-1}, x_t), \qquad
    h^{(l)}_t = R^{(l)}(h^{(l)}_{t-1}, h^{(l-1)}_t) \quad (l = 2 \dots L)

Each layer is one direction (a params dict, as in :mod:`rnn_ref.birnn`) or both directions (a
pair of dicts, run by :func:`rnn_ref.birnn.birnn_forward`), so a layer's input size is the
previous layer's H or 2H. This is ``torch.nn.RNN / LSTM / GRU`` with ``num_layers=L`` (and
``bidirectional=True`` when every layer is a pair), without dropout between the layers.
With ``lengths``, outputs at padded steps are zero in every layer, as in :mod:`rnn_ref.birnn`.
"""

import numpy as np

from .birnn import CELLS, birnn_backward, birnn_forward, check_lengths, check_params, run_direction, step_mask
from .shapes import check_shape


def stacked_forward(x, layers, cell="elman", lengths=None):
    """Run L recurrent layers on top of each other.

    Inputs: x (N, T, D); layers, a list of L entries, each a params dict (one direction, keys as
    in :func:`rnn_ref.birnn.birnn_forward`) or a pair (params_fwd, params_bwd) (bidirectional);
    layer l's Wx has as many rows as layer l-1 outputs (D for the first); cell "elman", "lstm"
    or "gru"; lengths (N,) or None.
    Returns (out, cache): out (N, T, H_L) or (N, T, 2 H_L), the last layer's outputs.
    """
    x = check_shape("x", x, (None, None, None))
    N, T, _ = x.shape
    lengths = check_lengths(lengths, N, T)
    if not layers:
        raise ValueError("layers is empty: a stacked RNN needs at least one layer")
    mask = step_mask(lengths, T)[:, :, None]
    caches, out = [], x
    for l, layer in enumerate(layers):
        if isinstance(layer, tuple):  # (params_fwd, params_bwd)
            out, cache = birnn_forward(out, *layer, cell, lengths)
            caches.append((True, None, cache))
        else:
            check_params(f"layers[{l}]", layer, cell)
            hs, cache = run_direction(out, layer, cell)
            out = hs * mask
            caches.append((False, tuple(layer), cache))
    return out, (cell, mask, out.shape, caches)


def stacked_backward(dout, cache):
    """Backward pass of :func:`stacked_forward`.

    Inputs: dout shaped like the forward's output; cache from the forward.
    Returns (dx, grads): dx (N, T, D); grads a list with one entry per layer, a dict of
    gradients for a one-direction layer (keys as its params, options and left-out initial
    states excepted) or a pair (grads_fwd, grads_bwd) for a bidirectional one.
    """
    cell, mask, out_shape, caches = cache
    dout = check_shape("dout", dout, out_shape)
    backward, names = CELLS[cell][1], CELLS[cell][2]
    grads = []
    for bidirectional, layer_keys, layer_cache in reversed(caches):
        if bidirectional:
            dout, grads_fwd, grads_bwd = birnn_backward(dout, layer_cache)
            grads.append((grads_fwd, grads_bwd))
        else:
            dout, *layer_grads = backward(dout * mask, layer_cache)
            grads.append({k: g for k, g in zip(names, layer_grads) if k in layer_keys})
    return dout, grads[::-1]
