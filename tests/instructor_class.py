"""A generated a1_elman class for the instructor-tool tests: known mistakes, two independent
styles of correct answer, a planted copy, and zips built in LMS layouts around them.

STYLE_A and STYLE_B are correct answers written independently of the instructor's solution
(loops and ``.dot`` in one, ``einsum`` and iterators in the other). PLANTED_COPY is STYLE_A with
its variables renamed, the two functions of its first cell swapped and its comments changed.
"""

import zipfile
from datetime import datetime

import nbformat

from grading import solved, student_copy

A = "a1_elman"
SIG = {
    "state": ('def make_state_function(Wx, Wh, b):\n    """Return R(h_prev, x) = tanh(x @ Wx + h_prev @ Wh + b): '
              'x (N, D), h_prev (N, H) -> (N, H)."""\n'),
    "output": ('def make_output_function(Wy, by):\n    """Return O(h) = softmax(h @ Wy + by) over the last axis: '
               'h (N, H) -> (N, K)."""\n'),
    "unroll": ('def unroll(R, O, s0, xs):\n    """Run s_t = R(s_{t-1}, x_t), y_t = O(s_t) over xs (N, T, D); '
               'return ([s_1..s_T], ys (N, T, K))."""\n'),
    "predict": ('def elman_predict(xs, h0, Wx, Wh, b, Wy, by):\n    """Outputs ys (N, T, K) of the Elman RNN on '
                'xs (N, T, D) from h0 (N, H)."""\n'),
    "step": ('def elman_step_forward(x, h_prev, Wx, Wh, b):\n    """One Elman step. x (N, D), h_prev (N, H), '
             'Wx (D, H), Wh (H, H), b (H,) -> (h (N, H), cache)."""\n'),
    "forward": ('def elman_forward(x, h0, Wx, Wh, b):\n    """Elman RNN over a sequence: x (N, T, D), h0 (N, H) '
                '-> (hs (N, T, H), cache)."""\n'),
}

STYLE_A = {
    "answer_state_output": SIG["state"] + '''    weights_in, weights_rec, bias = Wx, Wh, b

    def state(previous, inputs):
        # input term first, then the recurrent term
        pre_activation = inputs.dot(weights_in)
        pre_activation = pre_activation + previous.dot(weights_rec)
        return np.tanh(pre_activation + bias)

    return state


''' + SIG["output"] + '''    def output(hidden):
        logits = hidden.dot(Wy) + by
        logits = logits - np.max(logits, axis=1, keepdims=True)  # stable softmax
        probs = np.exp(logits)
        total = np.sum(probs, axis=1, keepdims=True)
        return probs / total

    return output
''',
    "answer_unroll": SIG["unroll"] + '''    T = xs.shape[1]
    outputs = [None] * T
    all_states = [None] * T
    current = s0
    t = 0
    while t < T:
        current = R(current, xs[:, t, :])
        all_states[t] = current
        outputs[t] = O(current)
        t += 1
    return all_states, np.stack(outputs, axis=1)
''',
    "answer_predict": SIG["predict"] + '''    R = make_state_function(Wx, Wh, b)
    O = make_output_function(Wy, by)
    states_and_outputs = unroll(R, O, h0, xs)
    return states_and_outputs[1]
''',
    "answer_step": SIG["step"] + '''    z = x.dot(Wx) + h_prev.dot(Wh) + b
    h_next = np.tanh(z)
    cache = (x, h_prev, Wx, Wh, h_next)
    return h_next, cache
''',
    "answer_forward": SIG["forward"] + '''    batch, steps, _ = x.shape
    hidden = h0.shape[-1]
    result = np.empty((batch, steps, hidden))
    cache_list = []
    h_t = h0
    for step in range(steps):
        h_t, c = elman_step_forward(x[:, step, :], h_t, Wx, Wh, b)
        result[:, step, :] = h_t
        cache_list.append(c)
    return result, cache_list
''',
}

# STYLE_A, renamed, its first cell's two functions swapped, comments changed.
PLANTED_COPY = {
    "answer_state_output": SIG["output"] + '''    def out_fn(hh):
        # the scores, shifted by their maximum so that exp cannot overflow
        sc = hh.dot(Wy) + by
        sc = sc - np.max(sc, axis=1, keepdims=True)
        pr = np.exp(sc)
        tot = np.sum(pr, axis=1, keepdims=True)
        return pr / tot

    return out_fn


''' + SIG["state"] + '''    A_in, A_rec, c0 = Wx, Wh, b

    def step_fn(prev_h, x_in):
        z = x_in.dot(A_in)
        z = z + prev_h.dot(A_rec)
        return np.tanh(z + c0)

    return step_fn
''',
    "answer_unroll": SIG["unroll"] + '''    n_steps = xs.shape[1]
    ys_list = [None] * n_steps
    st_list = [None] * n_steps
    cur = s0
    k = 0
    while k < n_steps:
        cur = R(cur, xs[:, k, :])
        st_list[k] = cur
        ys_list[k] = O(cur)
        k += 1
    return st_list, np.stack(ys_list, axis=1)
''',
    "answer_predict": SIG["predict"] + '''    f_state = make_state_function(Wx, Wh, b)
    f_out = make_output_function(Wy, by)
    both = unroll(f_state, f_out, h0, xs)
    return both[1]
''',
    "answer_step": SIG["step"] + '''    a = x.dot(Wx) + h_prev.dot(Wh) + b
    new_h = np.tanh(a)
    cch = (x, h_prev, Wx, Wh, new_h)
    return new_h, cch
''',
    "answer_forward": SIG["forward"] + '''    nb, nt, _ = x.shape
    nh = h0.shape[-1]
    out = np.empty((nb, nt, nh))
    store = []
    cur = h0
    for i in range(nt):
        cur, cc = elman_step_forward(x[:, i, :], cur, Wx, Wh, b)
        out[:, i, :] = cur
        store.append(cc)
    return out, store
''',
}

STYLE_B = {
    "answer_state_output": SIG["state"] + '''    return lambda h_prev, x: np.tanh(np.einsum("nd,dh->nh", x, Wx)
                                     + np.einsum("nk,kh->nh", h_prev, Wh) + b)


''' + SIG["output"] + '''    def softmax_rows(z):
        ez = np.exp(z - z.max(-1)[:, None])
        return ez / ez.sum(-1)[:, None]

    return lambda h: softmax_rows(np.einsum("nh,hk->nk", h, Wy) + by)
''',
    "answer_unroll": SIG["unroll"] + '''    states = []
    for x_t in np.moveaxis(xs, 1, 0):
        states.append(R(states[-1] if states else s0, x_t))
    return states, np.stack([O(s) for s in states], 1)
''',
    "answer_predict": SIG["predict"] + '''    return unroll(make_state_function(Wx, Wh, b), make_output_function(Wy, by), h0, xs)[-1]
''',
    "answer_step": SIG["step"] + '''    cache = (x, h_prev, Wx, Wh)
    h = np.tanh(np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", h_prev, Wh) + b)
    return h, cache + (h,)
''',
    "answer_forward": SIG["forward"] + '''    h, hs, caches = h0, [], []
    for x_t in np.moveaxis(x, 1, 0):
        h, c = elman_step_forward(x_t, h, Wx, Wh, b)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), caches
''',
}

STEP_LINE = "h, cache = elman_step_forward(x[:, t], h, Wx, Wh, b)"
WH_T = ("answer_forward", (STEP_LINE, STEP_LINE.replace("Wh, b", "Wh.T, b")))
NO_TANH = ("answer_state_output", ("return np.tanh(x @ Wx + h_prev @ Wh + b)", "return x @ Wx + h_prev @ Wh + b"))
BATCH_AXIS = ("answer_state_output", ("max(axis=-1", "max(axis=0"), ("sum(axis=-1", "sum(axis=0"))
RNN_REF = ("answer_step", ("h = np.tanh(x @ Wx + h_prev @ Wh + b)\n    return h, (x, h_prev, Wx, Wh, h)",
                           "from rnn_ref.elman import elman_step_forward as reference\n"
                           "    return reference(x, h_prev, Wx, Wh, b)"))
EDITS = {"wh_t": [WH_T], "no_tanh": [NO_TANH], "batch_axis": [BATCH_AXIS], "rnn_ref": [RNN_REF],
         "wh_t+batch_axis": [WH_T, BATCH_AXIS]}

# The catalogued mistakes planted, as the checks' messages name them.
WH_T_MISTAKE = "an Elman RNN with Wh transposed (h @ Wh.T)"
BATCH_AXIS_MISTAKE = "a softmax over the batch axis (axis 0) instead of over the classes"
SHORTCUT_MISTAKE = "uses rnn_ref or a torch RNN where its own code is asked for"


def _cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def notebook(kind):
    """The bytes of one kind of submission: solution, blank, style_a, style_b, copy, not_json,
    or a mistake of EDITS (the solution with those edits)."""
    if kind == "not_json":
        return b"{ this is not a notebook"
    if kind == "blank":
        nb = nbformat.read(str(student_copy(A)), as_version=4)
    elif kind in ("style_a", "style_b", "copy"):
        nb = solved(A, **{"style_a": STYLE_A, "style_b": STYLE_B, "copy": PLANTED_COPY}[kind])
    else:
        nb = solved(A)
        for gid, *replacements in EDITS.get(kind, []):
            cell = _cell(nb, gid)
            for old, new in replacements:
                assert old in cell.source, (kind, old)
                cell.source = cell.source.replace(old, new)
    return nbformat.writes(nb).encode()


def make_zip(path, members):
    """A zip of {member name: (bytes, datetime)}; names are written as given, unsafe ones too."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, (data, when) in members.items():
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            info.external_attr = 0o100644 << 16
            z.writestr(info, data)
    return path


def at(day, hour=12, minute=0):
    """A time in March 2026 (the tests' deadline is March 10, 23:59)."""
    return datetime(2026, 3, day, hour, minute)
