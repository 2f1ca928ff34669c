"""The benchmarked computations: each layer in rnn_ref and in torch, with the same weights.

For a layer with G weight blocks (Elman 1, LSTM 4, GRU 3) the matrix products cost
2 N T (D + H) G H floating-point operations forward and twice that backward (dx, dWx, dWh and
the recurrent dh); the GFLOP/s reported count only these, the elementwise work is extra.
"""

import numpy as np
import torch

from rnn_ref import torch_interop
from rnn_ref.elman import elman_backward, elman_forward
from rnn_ref.gru import gru_backward, gru_forward
from rnn_ref.lstm import lstm_backward, lstm_forward

# name: (weight blocks G, forward, backward, to_torch)
LAYERS = {
    "elman": (1, elman_forward, elman_backward, torch_interop.to_torch_rnn),
    "lstm": (4, lstm_forward, lstm_backward, torch_interop.to_torch_lstm),
    "gru": (3, gru_forward, gru_backward, torch_interop.to_torch_gru),
}


def matmul_flops(layer, N, T, D, H, backward):
    """Floating-point operations of the layer's matrix products (forward, or forward + backward)."""
    forward = 2 * N * T * (D + H) * LAYERS[layer][0] * H
    return 3 * forward if backward else forward


def make_runs(layer, N, T, D, H, dtype, seed=0):
    """Four zero-argument callables on the same data and weights.

    Returns {"rnn_ref forward", "rnn_ref forward+backward", "torch forward" (under no_grad),
    "torch forward+backward" (autograd, gradients for x, h0 and every weight)}.
    """
    G, forward, backward, to_torch = LAYERS[layer]
    rng = np.random.default_rng(seed)
    params = {"Wx": rng.normal(size=(D, G * H)) / np.sqrt(D), "Wh": rng.normal(size=(H, G * H)) / np.sqrt(H)}
    if layer == "gru":
        params["bx"], params["bh"] = rng.normal(size=G * H) * 0.1, rng.normal(size=G * H) * 0.1
    else:
        params["b"] = rng.normal(size=G * H) * 0.1
    params = {k: v.astype(dtype) for k, v in params.items()}
    x, h0, dhs = (rng.normal(size=s).astype(dtype) for s in ((N, T, D), (N, H), (N, T, H)))

    module = to_torch(params)
    xt, h0t, dhst = torch.from_numpy(x), torch.from_numpy(h0[None]), torch.from_numpy(dhs)
    state0 = (h0t, torch.zeros_like(h0t)) if layer == "lstm" else h0t

    with torch.no_grad():  # both sides must compute the same function before they are timed
        expected = module(xt, state0)[0].numpy()
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    if not np.allclose(forward(x, h0, **params)[0], expected, rtol=tolerance, atol=tolerance):
        raise AssertionError(f"{layer}: rnn_ref and torch disagree on the benchmark's data")

    def ours_forward():
        forward(x, h0, **params)

    def ours_forward_backward():
        _, cache = forward(x, h0, **params)
        backward(dhs, cache)

    def torch_forward():
        with torch.no_grad():
            module(xt, state0)

    def torch_forward_backward():
        for p in module.parameters():
            p.grad = None
        x_leaf = xt.detach().requires_grad_()
        h_leaf = h0t.detach().requires_grad_()
        out, _ = module(x_leaf, (h_leaf, state0[1]) if layer == "lstm" else h_leaf)
        out.backward(dhst)

    return {
        "rnn_ref forward": ours_forward,
        "rnn_ref forward+backward": ours_forward_backward,
        "torch forward": torch_forward,
        "torch forward+backward": torch_forward_backward,
    }


def numpy_matmul_seconds(m, k, n, dtype, timer):
    """Wall time of numpy's (m, k) @ (k, n) product into a preallocated output, with ``timer``."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(m, k)).astype(dtype), rng.normal(size=(k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    return timer(lambda: np.matmul(a, b, out=out))
