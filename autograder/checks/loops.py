"""Slips in the loop of backpropagation through time, as a reference step backward run the wrong way.

:func:`bptt_loop` runs BPTT over per-step caches with a reference step backward (rnn_ref's Elman,
LSTM or GRU), correctly or with one of the :data:`SLIPS`: the loop in the wrong direction or
missing a step, a cache or an initial gradient off by one, the state gradient not carried. The
checks of a2, a4 and a5 turn each into a catalogued mistake ({description: {gradient: array}}).
"""

import numpy as np

from rnn_course.gradients import _close

SLIPS = {
    "forward_order": "BPTT with the loop running forward in time (for t in range(T)): the gradient flows "
                     "from the last step back to the first, so loop over reversed(range(T))",
    "skip_first": "BPTT whose loop stops before t = 0 (reversed(range(1, T)) or range(T - 1, 0, -1)): step "
                  "t = 0 is never backpropagated",
    "skip_last": "BPTT whose loop starts at t = T - 2 (reversed(range(T - 1))): the last step t = T - 1 is "
                 "never backpropagated",
    "cache_shift": "BPTT with step t reading the cache of step t - 1 (cache[t - 1]): each step's backward "
                   "needs that step's own cache",
    "dh0_total": "BPTT returning as dh0 the gradient that goes into step 0's backward (dhs[:, 0] + dh_next) "
                 "instead of what comes out of it (step 0's dh_prev)",
    "double_last": "BPTT that starts dh_next at dhs[:, T-1] instead of zeros: the last step's upstream "
                   "gradient is counted twice",
    "no_carry_h": "BPTT that does not pass dh_prev from step t+1 back to step t: h_t also feeds the next "
                  "step, so its gradient is dhs[:, t] plus what comes back from t+1",
    "no_carry_c": "BPTT that does not pass dc_prev from step t+1 back to step t: the cell carries gradient "
                  "from step to step too",
}


def bptt_loop(step_backward, caches, dhs, n_state, slip=None):
    """BPTT with the reference ``step_backward`` over ``caches`` (one per step), optionally slipped.

    step_backward(dh, [dc,] cache) -> (dx, dh_prev, [dc_prev,] *weight gradients); n_state: 1 (h) or
    2 (h, c). dhs (N, T, H). Returns (dx (N, T, D), dh0, weight gradients summed over the steps...,
    [dc0]) in the order of the sequence backward (an LSTM's dc0 last), and the per-step gradients.
    """
    T = len(caches)
    N, _, H = dhs.shape
    carry = [np.zeros((N, H)) for _ in range(n_state)]
    if slip == "double_last":
        carry[0] = dhs[:, -1].copy()
    order = {"forward_order": range(T), "skip_first": reversed(range(1, T)),
             "skip_last": reversed(range(T - 1))}.get(slip, reversed(range(T)))
    steps, dh_in = {}, np.zeros((N, H))
    for t in order:
        cache = caches[t - 1] if slip == "cache_shift" else caches[t]
        dh_in = dhs[:, t] + (0 if slip == "no_carry_h" else carry[0])
        upstream = [dh_in] + ([np.zeros((N, H)) if slip == "no_carry_c" else carry[1]] if n_state == 2 else [])
        steps[t] = step_backward(*upstream, cache)
        carry = list(steps[t][1:1 + n_state])
    if not steps:
        return None, {}
    D = next(iter(steps.values()))[0].shape[1]
    dx = np.stack([steps[t][0] if t in steps else np.zeros((N, D)) for t in range(T)], axis=1)
    weights = [sum(g[k] for g in steps.values()) for k in range(1 + n_state, len(next(iter(steps.values()))))]
    dh0 = dh_in if slip == "dh0_total" else carry[0]
    return (dx, dh0, *weights, *carry[1:]), steps


def slip_variants(step_backward, caches, dhs, names, n_state, slips=SLIPS):
    """{description: {gradient name: array}} for each slip of ``slips`` that can be formed.

    Also the weight gradients of one step alone (assigned, not added up over the steps).
    """
    out = {}
    for key, description in slips.items():
        if key == "no_carry_c" and n_state < 2:
            continue
        grads, _ = bptt_loop(step_backward, caches, dhs, n_state, key)
        if grads is not None:
            out[description] = dict(zip(names, grads))
    T = len(caches)
    _, steps = bptt_loop(step_backward, caches, dhs, n_state)
    if T > 1:
        for k, name in enumerate(names[2:2 + len(steps[0]) - 1 - n_state], start=1 + n_state):
            shared = f"the weights are shared by all steps, so {name} adds up (+=) every step's part"
            out[f"the gradient of step t=0 alone: {shared}"] = {name: steps[0][k]}
            out[f"the gradient of the last step t={T - 1} alone: {shared}"] = {name: steps[T - 1][k]}
    out["zeros everywhere: the gradient must also flow back into the initial state"] = {
        name: np.zeros_like(dhs[:, 0]) for name in names if name in ("dh0", "dc0")}
    return out


def same_grads(got, expected):
    """Whether the student's gradients ``got`` equal ``expected`` (a tuple of arrays, or None)."""
    if expected is None or not isinstance(got, (tuple, list)) or len(got) != len(expected):
        return False
    try:
        arrays = [np.asarray(g, dtype=np.float64) for g in got]
    except (TypeError, ValueError):
        return False
    return all(a.shape == np.shape(e) and _close(a, np.asarray(e, dtype=np.float64)) for a, e in zip(arrays, expected))


def prune(variants, names, expected):
    """``variants`` without the gradients each one gets right ({description: {name: array}}): a
    judge names a mistake by the gradients it gets wrong, and the visible tests store less."""
    out = {}
    for description, arrays in variants.items():
        kept = {n: a for n, a in arrays.items()
                if not (np.shape(a) == np.shape(expected[names.index(n)])
                        and _close(np.asarray(a, dtype=np.float64), np.asarray(expected[names.index(n)], dtype=np.float64)))}
        if kept:
            out[description] = kept
    return out
