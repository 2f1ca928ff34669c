r"""Bidirectional RNNs: one recurrent network reads the sequence forwards, a second reads it backwards.

With a forward state :math:`\overrightarrow{h}_t` that has seen :math:`x_1 \dots x_t` and a
backward state :math:`\overleftarrow{h}_t` that has seen :math:`x_T \dots x_t`, the output at
step t is their concatenation:

.. math::

    \overrightarrow{h}_t = R(\overrightarrow{h}_{t-1}, x_t), \qquad
    \overleftarrow{h}_t = R'(\overleftarrow{h}_{t+1}, x_t), \qquad
    o_t = [\overrightarrow{h}_t ; \overleftarrow{h}_t]

R and R' are two cells of the same kind (Elman, LSTM or GRU) with their own parameters.

Sequences of different lengths share a padded batch x (N, T, D) with ``lengths`` (N,): sequence
n has real steps 0 .. lengths[n]-1. The backward direction of sequence n starts at its own last
real step, t = lengths[n]-1, never at the padding. Outputs of both directions at padded steps
are zero (as torch's ``pad_packed_sequence`` returns them), and padded inputs get zero gradient.
"""

import numpy as np

from .elman import elman_backward, elman_forward
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .shapes import check_shape, result_dtype

# cell name: (sequence forward, its backward, the forward's array arguments after x in order,
# its option arguments). The backward returns dx and then the arrays' gradients in that order.
CELLS = {
    "elman": (elman_forward, elman_backward, ("h0", "Wx", "Wh", "b"), ("activation",)),
    "lstm": (lstm_forward, lstm_backward, ("h0", "Wx", "Wh", "b", "c0"), ()),
    "gru": (gru_forward, gru_backward, ("h0", "Wx", "Wh", "bx", "bh"), ("reset",)),
}
INITIAL_STATES = ("h0", "c0")  # optional: zeros when left out


def step_mask(lengths, T):
    """mask[n, t] = t < lengths[n]: True at real steps. lengths (N,) -> mask (N, T) bool."""
    return np.arange(T) < np.asarray(lengths)[:, None]


def reverse_within_lengths(a, lengths):
    """Reverse each sequence over its own real steps, leaving its padded steps where they are.

    a (N, T, ...) and lengths (N,) -> array of a's shape with out[n, t] = a[n, lengths[n]-1-t]
    for t < lengths[n] and out[n, t] = a[n, t] after. Applying it twice gives back ``a``.
    """
    N, T = a.shape[:2]
    t = np.arange(T)
    lengths = np.asarray(lengths)[:, None]
    source = np.where(t < lengths, lengths - 1 - t, t)  # (N, T): which step lands at t
    return a[np.arange(N)[:, None], source]


def check_lengths(lengths, N, T):
    """lengths (N,) integers in [0, T] as an array, or all T when lengths is None; ValueError otherwise."""
    if lengths is None:
        return np.full(N, T)
    lengths = check_shape("lengths", lengths, (N,))
    if not np.issubdtype(lengths.dtype, np.integer) or lengths.min() < 0 or lengths.max() > T:
        raise ValueError(f"lengths must be integers in [0, T={T}], got {lengths.tolist()}")
    return lengths


def check_params(name, params, cell):
    """ValueError unless ``params`` has exactly the keys the cell's forward accepts."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    _, _, arrays, options = CELLS[cell]
    keys = set(params)
    missing = set(arrays) - set(INITIAL_STATES) - keys
    unknown = keys - set(arrays) - set(options)
    if missing or unknown:
        raise ValueError(f"{name} for cell {cell!r} takes keys {list(arrays + options)} (initial states "
                         f"and options optional); missing {sorted(missing)}, unknown {sorted(unknown)}")


def run_direction(x, params, cell):
    """The cell's sequence forward over x (N, T, D) with a params dict; h0 is zeros if left out.

    Returns the forward's (hs (N, T, H), cache), cache for the cell's sequence backward.
    """
    params = dict(params)
    if "h0" not in params:
        Wh = np.asarray(params["Wh"])
        params["h0"] = np.zeros((x.shape[0], Wh.shape[0]), dtype=result_dtype(x, Wh))
    return CELLS[cell][0](x, **params)


def birnn_forward(x, params_fwd, params_bwd, cell="elman", lengths=None):
    """Run a bidirectional RNN over a padded batch.

    Inputs:
      x (N, T, D);
      params_fwd, params_bwd: one dict per direction, keyed by the cell forward's arguments
      (the dicts of :mod:`rnn_ref.torch_interop`, plus the initial states):
        elman {Wx (D, H), Wh (H, H), b (H,), h0 (N, H), activation 'tanh' | 'relu'},
        lstm  {Wx (D, 4H), Wh (H, 4H), b (4H,), h0 (N, H), c0 (N, H)},
        gru   {Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,), h0 (N, H), reset 'after' | 'before'};
        h0 and c0 are zeros when left out, options take the forward's defaults;
      cell: "elman", "lstm" or "gru";
      lengths (N,) integers in [0, T], or None when every sequence has all T steps.
    Returns (out, cache): out (N, T, 2H) = [h_fwd ; h_bwd] on the last axis, zero at padded steps.
    """
    x = check_shape("x", x, (None, None, None))
    N, T, _ = x.shape
    lengths = check_lengths(lengths, N, T)
    check_params("params_fwd", params_fwd, cell)
    check_params("params_bwd", params_bwd, cell)
    h_fwd, cache_fwd = run_direction(x, params_fwd, cell)
    h_bwd_reversed, cache_bwd = run_direction(reverse_within_lengths(x, lengths), params_bwd, cell)
    mask = step_mask(lengths, T)[:, :, None]
    out = np.concatenate([h_fwd, reverse_within_lengths(h_bwd_reversed, lengths)], axis=2) * mask
    cache = (cell, lengths, out.shape, tuple(params_fwd), tuple(params_bwd), cache_fwd, cache_bwd)
    return out, cache


def birnn_backward(dout, cache):
    """Backward pass of :func:`birnn_forward`.

    Inputs: dout (N, T, 2H), the loss gradient for every output (ignored at padded steps);
    cache from the forward.
    Returns (dx, grads_fwd, grads_bwd): dx (N, T, D), and for each direction a dict with the
    same array keys as its params dict holding the gradients (e.g. grads_fwd["Wh"],
    grads_bwd["h0"]; no entry for an option, nor for an initial state left out).
    """
    cell, lengths, out_shape, keys_fwd, keys_bwd, cache_fwd, cache_bwd = cache
    T, H = out_shape[1], out_shape[2] // 2
    dout = check_shape("dout", dout, out_shape) * step_mask(lengths, T)[:, :, None]
    backward, names = CELLS[cell][1], CELLS[cell][2]
    dx_fwd, *grads_fwd = backward(dout[:, :, :H], cache_fwd)
    dx_bwd_reversed, *grads_bwd = backward(reverse_within_lengths(dout[:, :, H:], lengths), cache_bwd)
    dx = dx_fwd + reverse_within_lengths(dx_bwd_reversed, lengths)
    grads_fwd = {k: g for k, g in zip(names, grads_fwd) if k in keys_fwd}
    grads_bwd = {k: g for k, g in zip(names, grads_bwd) if k in keys_bwd}
    return dx, grads_fwd, grads_bwd
