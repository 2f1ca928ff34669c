"""Given code that later notebooks build on: the Elman RNN through torch, not the exercises' numpy.

Assignments 2 and 6 need an Elman forward and backward that work before the student's own do.
These run torch's ``nn.RNN`` (weights mapped from the course's row-vector layout) and take
gradients with autograd, so they hand over no answer of Assignments 1 and 2, whose exercises
ask for the numpy recurrence and BPTT written out. A check that asks for the student's own code
refuses calls into this module; where a notebook gives these functions, its checks allow them.

Weight mapping (course -> torch): ``weight_ih_l0 = Wx.T`` (H, D), ``weight_hh_l0 = Wh.T``
(H, H), ``bias_ih_l0 = b``, ``bias_hh_l0 = 0``. Caches are the course's tuples:
``(x, h0, Wx, Wh, hs, "tanh")`` for a sequence, ``(x, h_prev, Wx, Wh, h, "tanh")`` for a step.
"""

import numpy as np


def _torch():
    import torch

    return torch


def _rnn(Wx, Wh, b):
    """A float64 batch-first nn.RNN holding the course's weights; requires grad on them."""
    torch = _torch()
    D, H = np.shape(Wx)
    rnn = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.as_tensor(np.ascontiguousarray(Wx, dtype=float)).T)
        rnn.weight_hh_l0.copy_(torch.as_tensor(np.ascontiguousarray(Wh, dtype=float)).T)
        rnn.bias_ih_l0.copy_(torch.as_tensor(np.ascontiguousarray(b, dtype=float)))
        rnn.bias_hh_l0.zero_()
    return rnn


def _run(x, h0, Wx, Wh, b, grad=False):
    """(rnn, x_t, h0_t, out) with out (N, T, H) from torch; leaves require grad when ``grad``."""
    torch = _torch()
    rnn = _rnn(Wx, Wh, b)
    x_t = torch.tensor(np.ascontiguousarray(x, dtype=float), requires_grad=grad)
    h0_t = torch.tensor(np.ascontiguousarray(h0, dtype=float), requires_grad=grad)
    with torch.set_grad_enabled(grad):
        out, _ = rnn(x_t, h0_t[None])
    return rnn, x_t, h0_t, out


class _Tanh(str):
    """The cache's activation name, "tanh", also holding the bias (the course's cache has no b)."""

    b = None


def elman_forward(x, h0, Wx, Wh, b):
    """Given: the Elman RNN over a sequence. x (N, T, D), h0 (N, H) -> (hs (N, T, H), cache)."""
    hs = _run(x, h0, Wx, Wh, b)[3].numpy()
    activation = _Tanh("tanh")
    activation.b = np.array(b, dtype=float)
    return hs.copy(), (np.array(x, dtype=float), np.array(h0, dtype=float), np.array(Wx, dtype=float),
                       np.array(Wh, dtype=float), hs, activation)


def elman_step_forward(x, h_prev, Wx, Wh, b):
    """Given: one Elman step. x (N, D), h_prev (N, H) -> (h (N, H), cache)."""
    hs, cache = elman_forward(np.asarray(x)[:, None, :], h_prev, Wx, Wh, b)
    first = [part[:, 0] if k in (0, 4) else part for k, part in enumerate(cache)]  # x_1 and h_1
    return hs[:, 0].copy(), tuple(first)


def elman_backward(dhs, cache):
    """Given: gradients of the Elman RNN by autograd. dhs (N, T, H), cache of :func:`elman_forward`
    -> (dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,))."""
    torch = _torch()
    x, h0, Wx, Wh, hs = cache[:5]
    b = getattr(cache[5], "b", None)
    if b is None:  # a cache built elsewhere: recover b from the first step
        b = _bias_from_states(x, h0, Wx, Wh, hs)
    rnn, x_t, h0_t, out = _run(x, h0, Wx, Wh, b, grad=True)
    out.backward(torch.as_tensor(np.ascontiguousarray(dhs, dtype=float)))
    return (x_t.grad.numpy(), h0_t.grad.numpy(), rnn.weight_ih_l0.grad.T.numpy().copy(),
            rnn.weight_hh_l0.grad.T.numpy().copy(), rnn.bias_ih_l0.grad.numpy().copy())


def _bias_from_states(x, h0, Wx, Wh, hs):
    """b recovered from the first step of the cache: b = arctanh(h_1) - x_1 Wx - h0 Wh, row-averaged."""
    pre = np.arctanh(np.clip(hs[:, 0], -1 + 1e-15, 1 - 1e-15)) - x[:, 0] @ Wx - h0 @ Wh
    return pre.mean(axis=0)


def full_bptt(params, x, y, h0):
    """Given: loss and gradients of a whole sequence by autograd (the setting of truncated BPTT).

    params {Wx (D, H), Wh (H, H), b (H,), Wy (H, K), by (K,)}; x (N, T, D); y (N, T) ints;
    h0 (N, H), a constant. The loss is the softmax cross-entropy summed over steps, averaged over
    N. Returns (loss, grads with the keys of params, h_last (N, H)).
    """
    torch = _torch()
    rnn = _rnn(params["Wx"], params["Wh"], params["b"])
    Wy = torch.tensor(np.asarray(params["Wy"], dtype=float), requires_grad=True)
    by = torch.tensor(np.asarray(params["by"], dtype=float), requires_grad=True)
    hs, _ = rnn(torch.as_tensor(np.ascontiguousarray(x, dtype=float)), torch.as_tensor(np.ascontiguousarray(h0, dtype=float))[None])
    scores = hs @ Wy + by
    N = scores.shape[0]
    loss = torch.nn.functional.cross_entropy(scores.reshape(-1, scores.shape[-1]),
                                             torch.as_tensor(np.ascontiguousarray(y)).reshape(-1).long(),
                                             reduction="sum") / N
    loss.backward()
    grads = {"Wx": rnn.weight_ih_l0.grad.T.numpy().copy(), "Wh": rnn.weight_hh_l0.grad.T.numpy().copy(),
             "b": rnn.bias_ih_l0.grad.numpy().copy(), "Wy": Wy.grad.numpy(), "by": by.grad.numpy()}
    return loss.item(), grads, hs[:, -1].detach().numpy()


def rel_error(a, b, eps=1e-12):
    """The course's relative error: max |a - b| / max(|a| + |b|, eps), elementwise."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))
