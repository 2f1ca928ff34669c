r"""Optimisers that update a dict of parameters in place from a dict of gradients.

Each keeps its own state per parameter name and follows torch.optim's update rules, so a
training loop in numpy and one in torch take the same steps:

- SGD: :math:`v \leftarrow \mu v + g`, :math:`\theta \leftarrow \theta - \eta v` (plain SGD for
  :math:`\mu = 0`);
- Adam: :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
  :math:`\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)` with the bias
  corrections :math:`\hat m = m / (1-\beta_1^t)`, :math:`\hat v = v / (1-\beta_2^t)`.

The gradients are only read, never written to.
"""

import numpy as np


def _check(params, grads):
    unknown = set(grads) - set(params)
    if unknown:
        raise ValueError(f"grads has names {sorted(unknown)} that params lacks")
    for name, g in grads.items():
        if np.shape(g) != np.shape(params[name]):
            raise ValueError(f"grads[{name!r}] has shape {np.shape(g)}, expected {np.shape(params[name])}")


class SGD:
    """Stochastic gradient descent with optional momentum (torch.optim.SGD, no dampening).

    lr: learning rate; momentum: mu in [0, 1).
    """

    def __init__(self, lr, momentum=0.0):
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"need lr > 0 and 0 <= momentum < 1, got lr={lr}, momentum={momentum}")
        self.lr, self.momentum = lr, momentum
        self.velocity = {}  # name -> array like the parameter

    def step(self, params, grads):
        """Update params[name] in place for every name in grads. params, grads: dicts name -> array."""
        _check(params, grads)
        for name, g in grads.items():
            if self.momentum:
                v = self.velocity.get(name)
                v = self.velocity[name] = g.copy() if v is None else self.momentum * v + g
            else:
                v = g
            params[name] -= self.lr * v


class Adam:
    """Adam (Kingma and Ba, 2015) with torch.optim.Adam's defaults and arithmetic.

    lr: learning rate; betas: (beta1, beta2) for the two moving averages; eps: added to the
    denominator.
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        if lr <= 0 or not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"need lr > 0 and betas in [0, 1), got lr={lr}, betas={betas}")
        self.lr, self.betas, self.eps = lr, betas, eps
        self.m, self.v, self.steps = {}, {}, {}  # per name: first and second moments, step count

    def step(self, params, grads):
        """Update params[name] in place for every name in grads. params, grads: dicts name -> array."""
        _check(params, grads)
        beta1, beta2 = self.betas
        for name, g in grads.items():
            t = self.steps[name] = self.steps.get(name, 0) + 1
            m = self.m[name] = beta1 * self.m.get(name, 0) + (1 - beta1) * g
            v = self.v[name] = beta2 * self.v.get(name, 0) + (1 - beta2) * g * g
            denom = np.sqrt(v) / np.sqrt(1 - beta2 ** t) + self.eps
            params[name] -= (self.lr / (1 - beta1 ** t)) * m / denom
