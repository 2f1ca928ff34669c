"""Functions a test hands to the student's code, shipped as code because none is an answer.

A test of ``unroll`` gives it a state and an output function; a test of a gradient check gives it
a smooth function to differentiate; the test of a torch conversion runs the module it gets back.
Callable objects keep their parameters in :meth:`params` so the stored data can rebuild them.
"""

import numpy as np


def running_sum(s, x):
    """A state function for testing unroll: R(s, x) = s + x (the states are running sums)."""
    return s + x


def double(s):
    """An output function for testing unroll: O(s) = 2 s."""
    return 2 * s


class Smooth:
    """f(v) = sum(G * tanh(v @ W)) + sum(v**2) / 2: smooth, every second derivative away from 0.

    v (..., D), W (D, M), G (..., M). Returns a float.
    """

    __name__ = "f"

    def __init__(self, G, W):
        self.G, self.W = np.asarray(G, dtype=float), np.asarray(W, dtype=float)

    def __call__(self, v):
        return float(np.sum(self.G * np.tanh(v @ self.W)) + np.sum(v * v) / 2)

    def params(self):
        return {"G": self.G, "W": self.W}


def run_torch_rnn(module, x, h0):
    """Run the torch module a student built on x (N, T, D) and h0 (N, H); returns its output (N, T, H).

    Says what is wrong when the module is not a batch-first float64 torch recurrent layer.
    """
    from rnn_course.judge import CheckFailed

    import torch

    if not isinstance(module, torch.nn.RNNBase):
        raise CheckFailed(f"The function should return a torch.nn.GRU, got a {type(module).__name__}.")
    if not module.batch_first:
        raise CheckFailed("Your module has batch_first=False: it would read x (N, T, D) as (T, N, D). "
                          "Create it with batch_first=True, the course's layout.")
    if module.weight_ih_l0.dtype != torch.float64:
        raise CheckFailed(f"Your module holds {module.weight_ih_l0.dtype} weights: create it with "
                          "dtype=torch.float64 so that it matches the numpy version to 1e-7.")
    with torch.no_grad():
        out, _ = module(torch.from_numpy(np.asarray(x, dtype=np.float64)),
                        torch.from_numpy(np.asarray(h0, dtype=np.float64))[None])
    return out.numpy()
