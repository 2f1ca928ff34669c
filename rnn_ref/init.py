"""Weight initialisers, each drawing from a numpy Generator so that a seed reproduces a run.

Shapes follow the row-vector convention: a weight W (fan_in, fan_out) maps x (N, fan_in) to
x @ W (N, fan_out). ``rng`` is a ``numpy.random.Generator`` or an int seed.
"""

import numpy as np

GATES = {"elman": 1, "lstm": 4, "gru": 3}  # gate blocks side by side in Wx, Wh and the biases


def xavier_uniform(shape, rng, gain=1.0):
    """Glorot and Bengio (2010): uniform on [-a, a], a = gain * sqrt(6 / (fan_in + fan_out)).

    shape (fan_in, fan_out). Keeps the variance of activations and gradients roughly constant
    across a layer: Var = gain^2 * 2 / (fan_in + fan_out).
    """
    fan_in, fan_out = shape
    a = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.default_rng(rng).uniform(-a, a, size=shape)


def orthogonal(shape, rng, gain=1.0):
    """A (rows, cols) matrix with orthonormal rows or columns (whichever are fewer), times gain.

    The Q of a QR decomposition of a Gaussian matrix, signs fixed by R's diagonal so that Q is
    uniformly distributed. Every singular value equals gain: repeated multiplication by a square
    one neither shrinks nor grows a vector.
    """
    rows, cols = shape
    a = np.random.default_rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    return gain * (q if rows >= cols else q.T)


def identity(H, scale=1.0):
    """scale * I (H, H): the recurrent weights of the identity-initialised ReLU RNN (Le et al., 2015)."""
    return scale * np.eye(H)


def cell_params(cell, D, H, rng, forget_bias=1.0):
    """Initial parameters of one Elman, LSTM or GRU layer, as the dicts of rnn_ref.torch_interop.

    Wx (D, G*H) Xavier-uniform per gate block, Wh (H, G*H) orthogonal per gate block, biases
    zero except the LSTM forget gate's, set to ``forget_bias`` so that the cell starts out
    remembering. G = 1 (elman), 4 (lstm: i, f, g, o) or 3 (gru: r, z, n; keys bx and bh).
    """
    if cell not in GATES:
        raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}")
    rng = np.random.default_rng(rng)
    G = GATES[cell]
    params = {
        "Wx": np.concatenate([xavier_uniform((D, H), rng) for _ in range(G)], axis=1),
        "Wh": np.concatenate([orthogonal((H, H), rng) for _ in range(G)], axis=1),
    }
    if cell == "gru":
        params["bx"], params["bh"] = np.zeros(3 * H), np.zeros(3 * H)
    else:
        params["b"] = np.zeros(G * H)
    if cell == "lstm":
        params["b"][H:2 * H] = forget_bias
    return params
