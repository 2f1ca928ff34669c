"""The benchmarked programs: each layer in rnn_ref, in torch, and its matrix products alone in numpy.

For a layer with G weight blocks (Elman 1, LSTM 4, GRU 3) the matrix products are
(:func:`gemm_products`)

- forward: the input projection (T N, D) @ (D, G H) once, and (N, H) @ (H, G H) at every step;
- backward: (N, G H) @ (G H, H) at every step (the recurrent gradient), and once each
  dx (T N, G H) @ (G H, D), dWx (D, T N) @ (T N, G H), dWh (H, T N) @ (T N, G H),

2 N T (D + H) G H floating-point operations forward and twice that backward. The ``numpy``
program runs exactly these products and nothing else, into preallocated outputs: its time is
the floor that rnn_ref's code reaches when its elementwise work and overheads cost nothing.
GEMM efficiency = numpy's time / the layer's time (1.0 = the layer runs at numpy's own matmul
throughput for its products).

Each program is built in its own worker process (:mod:`bench.worker`); a worker imports only
what its library needs (the rnn_ref and numpy programs never import torch).
"""

import numpy as np

BLOCKS = {"elman": 1, "lstm": 4, "gru": 3}
PASSES = ("forward", "forward+backward")
LIBRARIES = ("rnn_ref", "torch", "numpy")


def gemm_products(layer, N, T, D, H, backward):
    """[(m, k, n, times)]: the matrix products (m, k) @ (k, n) of the pass, each done ``times`` times."""
    GH = BLOCKS[layer] * H
    products = [(T * N, D, GH, 1), (N, H, GH, T)]
    if backward:
        products += [(N, GH, H, T), (T * N, GH, D, 1), (D, T * N, GH, 1), (H, T * N, GH, 1)]
    return products


def matmul_flops(layer, N, T, D, H, backward):
    """Floating-point operations of the pass's matrix products (forward, or forward + backward)."""
    return sum(2 * m * k * n * times for m, k, n, times in gemm_products(layer, N, T, D, H, backward))


def make_data(layer, N, T, D, H, dtype, seed=0):
    """(params, x (N, T, D), h0 (N, H), dhs (N, T, H)): the same arrays in every worker (numpy only)."""
    G = BLOCKS[layer]
    rng = np.random.default_rng(seed)
    params = {"Wx": rng.normal(size=(D, G * H)) / np.sqrt(D), "Wh": rng.normal(size=(H, G * H)) / np.sqrt(H)}
    if layer == "gru":
        params["bx"], params["bh"] = rng.normal(size=G * H) * 0.1, rng.normal(size=G * H) * 0.1
    else:
        params["b"] = rng.normal(size=G * H) * 0.1
    params = {k: v.astype(dtype) for k, v in params.items()}
    x, h0, dhs = (rng.normal(size=s).astype(dtype) for s in ((N, T, D), (N, H), (N, T, H)))
    return params, x, h0, dhs


def rnn_ref_program(layer, N, T, D, H, dtype):
    """({pass: zero-argument callable}, forward output (N, T, H)) for rnn_ref's layer."""
    from rnn_ref.elman import elman_backward, elman_forward
    from rnn_ref.gru import gru_backward, gru_forward
    from rnn_ref.lstm import lstm_backward, lstm_forward

    forward, backward = {"elman": (elman_forward, elman_backward), "lstm": (lstm_forward, lstm_backward),
                         "gru": (gru_forward, gru_backward)}[layer]
    params, x, h0, dhs = make_data(layer, N, T, D, H, dtype)

    def forward_backward():
        _, cache = forward(x, h0, **params)
        backward(dhs, cache)

    return {"forward": lambda: forward(x, h0, **params), "forward+backward": forward_backward}, \
        forward(x, h0, **params)[0]


def torch_program(layer, N, T, D, H, dtype):
    """({pass: callable}, forward output): torch's module (weights mapped by rnn_ref.torch_interop).

    forward runs under ``torch.no_grad()``; forward+backward is autograd with gradients for x,
    h0 and every weight.
    """
    import torch

    from rnn_ref import torch_interop

    to_torch = {"elman": torch_interop.to_torch_rnn, "lstm": torch_interop.to_torch_lstm,
                "gru": torch_interop.to_torch_gru}[layer]
    params, x, h0, dhs = make_data(layer, N, T, D, H, dtype)
    module = to_torch(params)
    xt, h0t, dhst = torch.from_numpy(x), torch.from_numpy(h0[None]), torch.from_numpy(dhs)
    state0 = (h0t, torch.zeros_like(h0t)) if layer == "lstm" else h0t

    def forward():
        with torch.no_grad():
            return module(xt, state0)[0]

    def forward_backward():
        for p in module.parameters():
            p.grad = None
        x_leaf = xt.detach().requires_grad_()
        h_leaf = h0t.detach().requires_grad_()
        out, _ = module(x_leaf, (h_leaf, state0[1]) if layer == "lstm" else h_leaf)
        out.backward(dhst)

    return {"forward": forward, "forward+backward": forward_backward}, forward().numpy()


def numpy_program(layer, N, T, D, H, dtype):
    """({pass: callable}, None): the pass's matrix products alone (:func:`gemm_products`), same layouts.

    Operands are laid out as rnn_ref lays them: time-major inputs and states, the per-step
    backward product against a contiguous Wh^T, the weight gradients as transposed views.
    """
    G = BLOCKS[layer]
    rng = np.random.default_rng(1)
    data = lambda *shape: rng.normal(size=shape).astype(dtype)
    x2, Wx, Wh = data(T * N, D), data(D, G * H), data(H, G * H)
    hs, das, Wh_T, Wx_T = data(T + 1, N, H), data(T, N, G * H), data(G * H, H), data(G * H, D)
    gates, step, dh = np.empty((T * N, G * H), dtype), np.empty((N, G * H), dtype), np.empty((N, H), dtype)
    dx, dWx, dWh = np.empty((T * N, D), dtype), np.empty((D, G * H), dtype), np.empty((H, G * H), dtype)
    das2, h2 = das.reshape(T * N, G * H), hs[:-1].reshape(T * N, H)

    def forward():
        np.matmul(x2, Wx, out=gates)
        for t in range(T):
            np.matmul(hs[t], Wh, out=step)

    def forward_backward():
        forward()
        for t in reversed(range(T)):
            np.matmul(das[t], Wh_T, out=dh)
        np.matmul(das2, Wx_T, out=dx)
        np.matmul(x2.T, das2, out=dWx)
        np.matmul(h2.T, das2, out=dWh)

    return {"forward": forward, "forward+backward": forward_backward}, None


PROGRAMS = {"rnn_ref": rnn_ref_program, "torch": torch_program, "numpy": numpy_program}
