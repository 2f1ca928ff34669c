"""Checks for assignment a3_vanishing: step Jacobians, their products and norms, global-norm clipping,
and the short numeric answers read from the notebook's plot.

Expected values come from rnn_ref.analysis and rnn_ref.layers. Shapes: hs (N, T, H), Wh (H, H),
step Jacobians J (N, T, H, H) with J[:, t-1] = dh_t/dh_{t-1} = diag(1 - h_t**2) Wh.T.
"""

import numpy as np

from rnn_ref.analysis import (elman_step_jacobians, jacobian_product as ref_product,
                              norms_by_distance as ref_norms, random_recurrent_matrix)
from rnn_ref.elman import elman_forward
from rnn_ref.layers import clip_global_norm as ref_clip

from .common import (CheckFailed, assert_close, assert_not_aliased, assert_scalar_close, assert_shape,
                     assert_unchanged, call_student, rng, unpack)

J_AXES = ("batch row", "time step index", "row i (of h_t)", "column j (of h_{t-1})")
PRODUCT_AXES = ("batch row", "row i (of h_t)", "column j (of h_k)")


def _run(r, N=None, T=None, H=None, scale=1.0):
    """Hidden states of a random Elman run: (hs (N, T, H), Wh (H, H))."""
    N = N or int(r.integers(1, 4))
    T = T or int(r.integers(3, 7))
    H = H or int(r.integers(2, 6))
    D = int(r.integers(2, 5))
    Wx, Wh = r.standard_normal((D, H)) / np.sqrt(D), r.standard_normal((H, H)) / np.sqrt(H)
    hs, _ = elman_forward(scale * r.standard_normal((N, T, D)), 0.5 * r.standard_normal((N, H)),
                          Wx, Wh, 0.3 * r.standard_normal(H))
    return hs, Wh


# --- exercise 1: the Jacobian of one step --------------------------------------------------------

def _jacobians(step_jacobians, test, **sizes):
    hs, Wh = _run(rng(test), **sizes)
    got = call_student(step_jacobians, hs, Wh, names=["hs", "Wh"],
                       shape_hint="J[:, t-1] = diag(1 - h_t**2) @ Wh.T has shape (H, H).").value
    return got, hs, Wh


def jacobians_shape(step_jacobians):
    """J has shape (N, T, H, H): one H x H matrix per sequence and step."""
    got, hs, _ = _jacobians(step_jacobians, "jacobians_shape")
    assert_shape("J", got, hs.shape + hs.shape[-1:], axes=("N", "T", "H", "H"))


def jacobians_values(step_jacobians, test="jacobians_values", **sizes):
    """J against rnn_ref.analysis.elman_step_jacobians."""
    got, hs, Wh = _jacobians(step_jacobians, test, **sizes)
    d = 1 - hs * hs
    assert_close("J", got, elman_step_jacobians(hs, Wh), axes=J_AXES, variants={
        "diag(1 - h_t**2) Wh, without the transpose (with row vectors, h_t = tanh(... + h_{t-1} Wh), "
        "so dh_t[i]/dh_{t-1}[j] = (1 - h_t[i]**2) Wh[j, i])": lambda: d[..., :, None] * Wh,
        "Wh.T alone, without the tanh derivative": lambda: np.broadcast_to(Wh.T, got.shape),
        "the derivative 1 - h_t instead of 1 - h_t**2": lambda: (1 - hs)[..., :, None] * Wh.T,
        "Wh.T diag(1 - h_t**2): the derivative scales the columns instead of the rows":
            lambda: Wh.T * d[..., None, :],
        "an off-by-one in time: the derivative at the previous state, 1 - h_{t-1}**2 (and 1 at "
        "t=1), where step t's Jacobian needs 1 - h_t**2 of the state that step produced":
            lambda: (1 - _previous(hs) ** 2)[..., :, None] * Wh.T,
        "the derivative 1 - tanh(h_t)**2: hs already holds tanh's outputs, so tanh'(a_t) = 1 - h_t**2 "
        "(no second tanh)": lambda: (1 - np.tanh(hs) ** 2)[..., :, None] * Wh.T,
    })


def _previous(hs):
    """hs shifted one step later in time, zeros first: h_{t-1} at step t (h_0 taken as 0)."""
    return np.concatenate([np.zeros_like(hs[:, :1]), hs[:, :-1]], axis=1)


def jacobians_single_unit(step_jacobians):
    """Edge case H = 1: every Jacobian is a 1 x 1 matrix."""
    jacobians_values(step_jacobians, test="jacobians_single_unit", H=1)


# --- exercise 2: products of Jacobians -------------------------------------------------------------

def _product(jacobian_product, test, t=None, k=None, **sizes):
    r = rng(test)
    hs, Wh = _run(r, **sizes)
    J = elman_step_jacobians(hs, Wh)
    T = J.shape[1]
    if t is None:
        t = int(r.integers(2, T + 1))
        k = int(r.integers(0, t - 1))
    got = call_student(jacobian_product, J, t, k, names=["J", "t", "k"]).value
    steps = [J[:, s - 1] for s in range(1, T + 1)]  # steps[s - 1] = J_s

    def chain(first, last, reverse=False, index=lambda s: s - 1, times=np.matmul):
        """J[:, index(s)] multiplied for s = first down to last (Python indexing: -1 wraps)."""
        product = np.broadcast_to(np.eye(J.shape[2]), J.shape[:1] + J.shape[2:]).copy()
        order = range(first, last - 1, -1) if not reverse else range(last, first + 1)
        for s in order:
            product = times(product, J[:, index(s)])
        return product

    assert_close(f"dh_{t}/dh_{k}", got, ref_product(J, t, k), axes=PRODUCT_AXES, variants={
        "the product in the opposite order, J_{k+1} ... J_t (the chain rule puts J_t on the left)":
            lambda: chain(t, k + 1, reverse=True),
        "a product with one factor too many, J_t ... J_k (the loop should stop before s = k: "
        "range(t, k, -1))" + (" here with J[:, -1], the last step's Jacobian, for s = 0" if k == 0 else ""):
            lambda: chain(t, k),
        "a product with one factor too few, J_{t-1} ... J_{k+1}": lambda: chain(t - 1, k + 1),
        "a product with one factor too few at the other end, J_t ... J_{k+2} (the loop stops at "
        "s = k+2: range(t, k + 1, -1))": lambda: chain(t, k + 2) if t > k else None,
        "each factor taken one step late, J[:, s] (that is J_{s+1}) where J_s is J[:, s-1]":
            lambda: chain(t, k + 1, index=lambda s: s) if t < T else None,
        "an elementwise product (*) of the Jacobians instead of the matrix product (@)":
            lambda: chain(t, k + 1, times=np.multiply) if t > k else None,
        "J_t where t == k: with no factor at all the product is the identity matrix":
            lambda: J[:, t - 1] if t == k and t >= 1 else None,
        "a zero matrix: the product must start from the identity matrix (np.eye), not np.zeros, "
        "and with no factor at all (t == k) it is the identity": lambda: 0 * J[:, 0],
    }, hint=f"(t = {t}, k = {k}, T = {T}; J[:, s-1] is J_s = dh_s/dh_(s-1))")


def product_values(jacobian_product):
    """dh_t/dh_k = J_t J_{t-1} ... J_{k+1} for random 0 <= k < t <= T."""
    _product(jacobian_product, "product_values")


def product_identity(jacobian_product):
    """t == k: no factor, the identity (a state's derivative with respect to itself)."""
    r = rng("product_identity")
    t = int(r.integers(0, 4))
    _product(jacobian_product, "product_identity", t=t, k=t, T=4)


def product_whole_sequence(jacobian_product):
    """k = 0 and t = T: every step of the sequence."""
    _product(jacobian_product, "product_whole_sequence", t=5, k=0, T=5)


# --- exercise 3: norms against distance -------------------------------------------------------------

def norms_values(norms_by_distance, test="norms_values", **sizes):
    """norms[:, d] = spectral norm of dh_T/dh_{T-d}, d = 0 ... T, against rnn_ref."""
    hs, Wh = _run(rng(test), **sizes)
    J = elman_step_jacobians(hs, Wh)
    got = call_student(norms_by_distance, J, names=["J"]).value
    T = J.shape[1]
    assert_close("norms", got, ref_norms(J), axes=("batch row", "distance d"), variants={
        "Frobenius norms; the course uses the spectral norm (np.linalg.norm(..., ord=2))":
            lambda: ref_norms(J, norm="fro"),
        "the norms of dh_d/dh_0 (from the first step forwards) instead of dh_T/dh_(T-d)":
            lambda: np.stack([np.linalg.norm(ref_product(J, d, 0), ord=2, axis=(1, 2))
                              for d in range(T + 1)], axis=1),
        "the norms for d = 1 ... T without the identity at d = 0": lambda: ref_norms(J)[:, 1:],
        "the norms of J_1 J_2 ... J_d (the products from the first step, in the opposite order) "
        "instead of dh_T/dh_(T-d) = J_T ... J_(T-d+1)":
            lambda: _cumulative_norms(J, range(T), left=False),
        "the products in the opposite order, J_(T-d+1) ... J_T (the chain rule puts J_T on the left: "
        "product = product @ J[:, T - d])": lambda: _cumulative_norms(J, range(T - 1, -1, -1), left=True),
        "an off-by-one in the step index: the factor J[:, T - d - 1] where dh_T/dh_(T-d) needs "
        "J[:, T - d] (J[:, -1] wraps around at d = T)":
            lambda: _cumulative_norms(J, [T - d - 1 for d in range(1, T + 1)], left=False),
    })


def _cumulative_norms(J, indices, left):
    """Spectral norms of the identity, then of the product grown by J[:, i] for i in ``indices``
    (multiplied on the left when ``left``, else on the right): (N, len(indices) + 1)."""
    N, _, H, _ = J.shape
    product = np.broadcast_to(np.eye(H), (N, H, H)).copy()
    norms = [np.linalg.norm(product, ord=2, axis=(1, 2))]
    for i in indices:
        product = J[:, i] @ product if left else product @ J[:, i]
        norms.append(np.linalg.norm(product, ord=2, axis=(1, 2)))
    return np.stack(norms, axis=1)


def norms_single_step(norms_by_distance):
    """Edge case T = 1: two norms, the identity's 1 and the norm of J_1."""
    norms_values(norms_by_distance, test="norms_single_step", T=1)


# --- exercise 4: clipping by global norm ----------------------------------------------------------

def _grads(r, count=None):
    count = count or int(r.integers(2, 5))
    shapes = [tuple(int(n) for n in r.integers(1, 5, size=int(r.integers(1, 3)))) for _ in range(count)]
    return {f"W{i}": r.standard_normal(s) for i, s in enumerate(shapes)}


def _clip(clip_global_norm, grads, max_norm):
    call = call_student(clip_global_norm, grads, max_norm, names=["grads", "max_norm"],
                        outputs=("clipped", "total_norm"))
    clipped, total = unpack("clip_global_norm", call.value, 2)
    if not isinstance(clipped, dict) or set(clipped) != set(grads):
        raise CheckFailed(f"clip_global_norm should return a dict with the keys {sorted(grads)} "
                          f"first, got {type(clipped).__name__}.")
    return call, clipped, total


def _compare_clipped(clipped, total, grads, max_norm):
    expected, ref_total = ref_clip(grads, max_norm)
    norms = [float(np.linalg.norm(g)) for g in grads.values()]
    assert_scalar_close("total_norm", total, ref_total, tol=1e-9 * max(1.0, ref_total),
                        hint="The global norm is sqrt of the sum of squares of every entry of every gradient.",
                        variants={"the sum of squares without the square root": ref_total ** 2,
                                  "the sum of the gradients' own norms instead of the square root of "
                                  "the sum of their squares": sum(norms),
                                  "the largest of the gradients' own norms": max(norms)})
    for name in grads:
        g = grads[name]
        assert_close(f"clipped['{name}']", clipped[name], expected[name], rtol=1e-5, variants={
            "each gradient clipped to max_norm on its own (its own norm), not by the global norm":
                lambda g=g: g * min(1.0, max_norm / np.linalg.norm(g)) if np.any(g) else None,
            "clipping by value (np.clip at +-max_norm) instead of by norm":
                lambda g=g: np.clip(g, -max_norm, max_norm),
            "every gradient scaled to norm max_norm, even when the global norm is below it":
                lambda g=g: g * max_norm / ref_total if ref_total > 0 else None,
            "the gradients unchanged: not clipped although the global norm is above max_norm "
            "(scale = min(1, max_norm / total_norm), not max)": lambda g=g: g if ref_total > max_norm else None,
        })


def clip_above(clip_global_norm):
    """Global norm above max_norm: every gradient scaled by max_norm / total_norm."""
    r = rng("clip_above")
    grads = _grads(r)
    max_norm = float(r.uniform(0.2, 0.5)) * ref_clip(grads, 1.0)[1]
    _, clipped, total = _clip(clip_global_norm, grads, max_norm)
    _compare_clipped(clipped, total, grads, max_norm)


def clip_below(clip_global_norm):
    """Global norm below max_norm: the same values come back, in a new dict of new arrays (not
    the caller's own); all-zero gradients (global norm 0) come back as zeros."""
    r = rng("clip_below")
    grads = _grads(r)
    max_norm = float(r.uniform(1.5, 3.0)) * ref_clip(grads, 1.0)[1]
    call, clipped, total = _clip(clip_global_norm, grads, max_norm)
    _compare_clipped(clipped, total, grads, max_norm)
    assert_not_aliased(call, "clip_global_norm", outputs=("clipped",))
    zeros = {name: 0 * g for name, g in grads.items()}
    _, clipped, total = _clip(clip_global_norm, zeros, max_norm)
    _compare_clipped(clipped, total, zeros, max_norm)


def clip_inputs_unchanged(clip_global_norm):
    """The caller's gradients are not scaled in place: new arrays come back."""
    r = rng("clip_inputs_unchanged")
    grads = _grads(r)
    call, _, _ = _clip(clip_global_norm, grads, 0.3 * ref_clip(grads, 1.0)[1])
    assert_unchanged(call, "clip_global_norm")


def clip_single_gradient(clip_global_norm):
    """A dict with a single gradient: global-norm clipping is then that gradient's norm clipping."""
    r = rng("clip_single_gradient")
    grads = _grads(r, count=1)
    max_norm = 0.5 * ref_clip(grads, 1.0)[1]
    _, clipped, total = _clip(clip_global_norm, grads, max_norm)
    _compare_clipped(clipped, total, grads, max_norm)


# --- exercise 5: what the plot shows ---------------------------------------------------------------

RADII = (0.5, 0.9, 1.2)
STUDENT_DATA = ("plot_data",)  # stored in the student package: the notebook plots it


def plot_data(T=30, H=16, input_scale=1e-4, seed=0):
    """{spectral radius of Wh: norms of dh_T/dh_(T-d), d = 0 ... T} for one small-input run each.

    Fixed seed: the notebook plots these and the answers of exercise 5 are read from them.
    With inputs this small the states stay near 0, tanh' is near 1, and the products behave
    like powers of Wh.T.
    """
    r = np.random.default_rng(seed)
    D = 3
    x = input_scale * r.standard_normal((1, T, D))
    Wx = r.standard_normal((D, H)) / np.sqrt(D)
    data = {}
    for radius in RADII:
        Wh = random_recurrent_matrix(H, radius, r)
        hs, _ = elman_forward(x, np.zeros((1, H)), Wx, Wh, np.zeros(H))
        data[radius] = ref_norms(elman_step_jacobians(hs, Wh))[0]
    return data


def _factor(norms, first=10, last=25):
    """The average factor per step between distances first and last."""
    return float((norms[last] / norms[first]) ** (1.0 / (last - first)))


def answer_factor_05(answer):
    """The per-step factor of the norm for spectral radius 0.5 (within 0.1)."""
    assert_scalar_close("answer_factor_05", answer, _factor(plot_data()[0.5]), tol=0.1,
                        hint="Read two distances on the radius-0.5 curve: the norm is multiplied "
                             "by about the same factor at each step.")


def answer_distance_09(answer):
    """The first distance at which the norm for radius 0.9 falls below 0.1 (within 2 steps)."""
    norms = plot_data()[0.9]
    below = np.nonzero(norms < 0.1)[0]
    expected = int(below[0]) if below.size else len(norms)
    assert_scalar_close("answer_distance_09", answer, expected, tol=2,
                        hint="Find where the radius-0.9 curve crosses the dashed line at 0.1.")


def answer_factor_12(answer):
    """The per-step factor of the norm for spectral radius 1.2 (within 0.1)."""
    assert_scalar_close("answer_factor_12", answer, _factor(plot_data()[1.2]), tol=0.1,
                        hint="The radius-1.2 curve grows: the factor per step is above 1.")
