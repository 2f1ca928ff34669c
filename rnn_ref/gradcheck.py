"""Gradient checking: centred finite differences and the course's relative error.

Nothing here mutates the caller's arrays: each probe perturbs a private copy.
"""

import numpy as np


def rel_error(a, b, eps=1e-12):
    """Relative error used throughout the course: max |a - b| / max(|a| + |b|, eps), elementwise.

    Returns a float; 0.0 when both arrays are identical (including all zeros).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))


def numerical_gradient(f, x, h=None, order=2):
    """Centred-difference gradient of the scalar function ``f`` at ``x``.

    f: callable taking an array shaped like x and returning a float.
    x: array of any shape; it is copied, never modified.
    order=2 (default): ``D(h) = (f(x + h e_i) - f(x - h e_i)) / (2h)`` for each entry i, whose
    truncation error is of order h^2; h defaults to 1e-6.
    order=4: the Richardson combination ``(4 D(h) - D(2h)) / 3``, which cancels the h^2 term
    (error of order h^4) and so allows a larger step with less round-off; h defaults to 1e-3.
    Returns an array of x's shape.
    """
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order!r}")
    if h is None:
        h = 1e-6 if order == 2 else 1e-3
    x = np.array(x, dtype=np.float64)  # private copy
    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)

    def centred(i, step):
        old = flat_x[i]
        flat_x[i] = old + step
        plus = float(f(x.copy()))
        flat_x[i] = old - step
        minus = float(f(x.copy()))
        flat_x[i] = old
        return (plus - minus) / (2 * step)

    for i in range(flat_x.size):
        flat_g[i] = centred(i, h)
        if order == 4:
            flat_g[i] = (4 * flat_g[i] - centred(i, 2 * h)) / 3
    return grad


def numerical_gradient_array(f, x, dout, h=1e-6):
    """Centred-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    f: callable taking an array shaped like x and returning an array shaped like dout.
    Returns an array of x's shape.
    """
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_gradient(lambda v: np.sum(np.asarray(f(v), dtype=np.float64) * dout), x, h)


def check_layer_gradients(forward, backward, inputs, dout, h=1e-6):
    """Compare a layer's analytic gradients with centred differences for every input.

    forward: callable(*inputs) -> (out, cache); backward: callable(dout, cache) -> tuple of grads
    in the order of ``inputs``. ``out`` may be an array or a tuple of arrays, then ``dout`` is a
    tuple of the same length. Returns a list of relative errors (:func:`rel_error`), one per
    input. The inputs are copied, never modified.

    The analytic gradients come from one float64 forward and backward pass. The differences
    probe the loss ``sum(out * dout)``, evaluated in extended precision (``forward`` is called
    with ``np.longdouble`` copies of the inputs, so it must accept them, as numpy code without a
    hard-coded dtype does) and relative to its value at the unperturbed inputs. In plain float64
    the round-off of the loss alone (about 1e-16 times its size) puts an error of about 1e-10
    into every difference quotient, so gradient entries below about 1e-3 would fail a 1e-7
    relative test by chance. Where numpy's longdouble is no wider than float64 (e.g. on
    Windows or ARM Macs) the check is as accurate as a float64 one.
    """
    inputs = [np.array(a, dtype=np.float64) for a in inputs]
    out, cache = forward(*inputs)
    grads = backward(dout, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    outs = out if isinstance(out, tuple) else (out,)
    douts = dout if isinstance(dout, tuple) else (dout,)
    if len(outs) != len(douts):
        raise ValueError(f"forward returned {len(outs)} outputs but {len(douts)} upstream gradients were given")
    wide_douts = [np.asarray(d, dtype=np.longdouble) for d in douts]

    def wide_loss(args):
        result, _ = forward(*[np.array(a, dtype=np.longdouble) for a in args])
        result = result if isinstance(result, tuple) else (result,)
        return sum(np.sum(np.asarray(r, dtype=np.longdouble) * d) for r, d in zip(result, wide_douts))

    base = wide_loss(inputs)

    def loss(k, value):
        args = list(inputs)
        args[k] = value
        return float(wide_loss(args) - base)

    errors = []
    for k, analytic in enumerate(grads):
        if np.shape(analytic) != inputs[k].shape:
            raise ValueError(f"gradient {k} has shape {np.shape(analytic)}, its input has shape {inputs[k].shape}")
        numeric = numerical_gradient(lambda v, k=k: loss(k, v), inputs[k], h)
        errors.append(rel_error(analytic, numeric))
    return errors
