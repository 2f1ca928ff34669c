"""rnn_course.gradients: gradients judged block by block, path by path, step by step, and
follow-through (a backward right given the student's own wrong forward), live and replayed.

Student code is written here as small functions around the source notebooks' solutions (a forward
with its gates read in another order, a backward with one slip), so that each test knows exactly
what is wrong (calling rnn_ref itself would be a forbidden shortcut).
"""

import numpy as np
import pytest

from autograder.authoring import answers
from autograder.checks import bptt, gru, lstm
from autograder.checks.loops import bptt_loop
from autograder.course import source_notebook
from rnn_course import gradients, judge
from rnn_course.checks import lstm as visible_lstm
from rnn_ref.elman import elman_step_forward


def solutions(assignment, cells):
    """The namespace of the source notebook's solution cells ``cells``."""
    namespace = {"np": np}
    exec("def sigmoid(a):\n    return 0.5 * (1.0 + np.tanh(0.5 * a))\n", namespace)
    for cell in cells:
        exec(answers(source_notebook(assignment))[cell], namespace)
    return namespace


A4 = solutions("a4_lstm", ("answer_step_forward", "answer_step_backward", "answer_forward", "answer_backward"))
A5 = solutions("a5_gru", ("answer_step_forward", "answer_step_backward"))
A2 = solutions("a2_bptt", ("answer_step_backward",))
lstm_step_forward, lstm_forward = A4["lstm_step_forward"], A4["lstm_forward"]
lstm_step_backward, lstm_backward = A4["lstm_step_backward"], A4["lstm_backward"]
gru_step_forward, elman_step_backward = A5["gru_step_forward"], A2["elman_step_backward"]

IFOG = "ifog"  # a wrong gate order: the student's o is the block of g and the other way round


@pytest.fixture(autouse=True)
def seed():
    saved, judge._seed = judge._seed, 4242
    yield
    judge._seed = saved


def slipped_lstm_step_backward(mistake):
    """A student's step backward: rnn_ref's with one of lstm.STEP_BACKWARD_MISTAKES."""
    def lstm_step_backward_student(dh, dc, cache):
        x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache  # the solution's cache, without c
        full = (x, h_prev, c_prev, Wx, Wh, i, f, g, o, f * c_prev + i * g, tanh_c)
        return lstm.mistaken_step_backward(dh, dc, full, mistake)
    return lstm_step_backward_student


def failure(fn, *args, **kw):
    with pytest.raises(judge.CheckFailed) as info:
        fn(*args, **kw)
    return " ".join(str(info.value).split())


# --- block by block, path by path ---------------------------------------------------------------

def test_a_sign_slip_in_one_gate_names_that_block_and_the_right_ones():
    text = failure(lstm.step_backward_values, lstm_step_forward, slipped_lstm_step_backward("o_sign"))
    assert "opposite sign for the output gate o" in text
    assert "`dWx` (gate o's block, with the opposite sign; the blocks of i, f, g are right)" in text
    assert "Right: `dc_prev`" in text  # o does not reach c_prev


def test_the_probes_put_a_mistake_on_the_path_through_h_or_through_c():
    through_h = failure(lstm.step_backward_values, lstm_step_forward,
                        slipped_lstm_step_backward("cell_gradient_without_o"))
    assert "with only dc flowing in (dh = 0) your gradients are right" in through_h
    assert "on the path through h" in through_h
    dc_ignored = failure(lstm.step_backward_values, lstm_step_forward, slipped_lstm_step_backward("no_upstream_dc"))
    assert "with only dh flowing in (dc = 0) your gradients are right" in dc_ignored
    both = failure(lstm.step_backward_values, lstm_step_forward, slipped_lstm_step_backward("f_tanh_prime"))
    assert "on the path through c" in both


def test_right_weight_gradients_point_at_how_dx_is_formed():
    def elman_step_backward_student(dh, cache):
        dx, dh_prev, dWx, dWh, db = elman_step_backward(dh, cache)
        return -dx, dh_prev, dWx, dWh, db

    text = failure(bptt.step_backward_values, elman_step_backward_student)
    assert "`dx` (the opposite sign)" in text and "so your gradient of the pre-activations (da) is right" in text


def test_gru_blocks_are_r_z_n():
    def gru_step_backward_student(dh, cache):
        return gru.mistaken_step_backward(dh, (*cache, "after"), "hidden_n_without_r")

    text = failure(gru.step_backward_values, gru_step_forward, gru_step_backward_student)
    assert "`dWh` (gate n's block; the blocks of r, z are right)" in text and "Right: `dx`, `dWx`, `dbx`" in text


# --- step by step ----------------------------------------------------------------------------------

def _elman_backward_with(slip):
    def elman_backward_student(dhs, cache):
        return bptt_loop(elman_step_backward, bptt._step_caches(cache), dhs, 1, slip)[0]
    return elman_backward_student


def test_the_time_profile_tells_a_carry_slip_from_a_slip_of_every_step():
    carried = failure(bptt.backward_values, elman_step_backward, _elman_backward_with("no_carry_h"))
    assert "right at the last step" in carried and "growing toward the first step" in carried
    assert "does not pass dh_prev from step t+1 back" in carried
    skipped = failure(bptt.backward_values, elman_step_backward, _elman_backward_with("skip_last"))
    assert "wrong already at the last step" in skipped and "the last step t = T - 1 is never backpropagated" in skipped


# --- follow-through ------------------------------------------------------------------------------

def ifog_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """A wrong step forward: the gates read in the order i, f, o, g."""
    return lstm_step_forward(x, h_prev, c_prev, *(lstm.permute_gates(W, IFOG) for W in (Wx, Wh, b)))


def ifog_step_backward(dh, dc, cache):
    """The exact derivative of ifog_step_forward (the weight gradients' blocks put back)."""
    grads = list(lstm_step_backward(dh, dc, cache))
    grads[3:] = [lstm.permute_gates(g, IFOG) for g in grads[3:]]  # swapping g and o twice: identity
    return tuple(grads)


def test_a_backward_right_given_a_wrong_forward_earns_its_points(capsys):
    assert failure(lstm.step_forward_values, ifog_step_forward)  # the forward itself is wrong
    lstm.step_backward_values(ifog_step_forward, ifog_step_backward)
    assert capsys.readouterr().out.startswith("Right given your `lstm_step_forward`:")


def test_a_backward_wrong_given_the_students_own_forward_still_fails():
    text = failure(lstm.step_backward_values, ifog_step_forward, lstm_step_backward)
    assert "not their derivative" in text and "`dWx` (gates g, o)" in text


def test_a_hard_coded_backward_fails_follow_through_on_other_inputs():
    graded = lstm.draw("step_backward_values")  # the sizes of the graded case, other values
    N, T, D = graded["x"].shape
    p = lstm.draw("hard_coded", N=N, T=T, D=D, H=graded["h0"].shape[1])
    args = (p["x"][:, 0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
    _, _, cache = ifog_step_forward(*args)
    stored = ifog_step_backward(p["dhs"][:, 0], p["dc"], cache)
    assert "not their derivative" in failure(lstm.step_backward_values, ifog_step_forward, lambda dh, dc, c: stored)


def test_sequence_follow_through_by_differences_and_by_the_students_step_functions(capsys):
    def ifog_forward(x, h0, Wx, Wh, b, c0=None):
        return lstm_forward(x, h0, *(lstm.permute_gates(W, IFOG) for W in (Wx, Wh, b)), c0=c0)

    def ifog_backward(dhs, cache):  # the solution's lstm_backward runs the right step backward
        grads = list(lstm_backward(dhs, cache))
        grads[2:5] = [lstm.permute_gates(g, IFOG) for g in grads[2:5]]
        return tuple(grads)

    lstm.backward_values(None, None, ifog_forward, ifog_backward)  # differences of the student's forward
    assert capsys.readouterr().out.startswith("Right given your `lstm_forward`:")

    def slipped_backward(dhs, caches):  # BPTT done right over a wrong step backward
        return bptt_loop(slipped_lstm_step_backward("f_sign"), caches, dhs, 2)[0]

    assert "Step by step" in failure(lstm.backward_values, None, None, lstm_forward, slipped_backward)
    lstm.backward_values(lstm_step_forward, slipped_lstm_step_backward("f_sign"), lstm_forward, slipped_backward)
    assert capsys.readouterr().out.startswith("Right given your `lstm_step_backward`:")


# --- replayed from the stored data of the visible tests ------------------------------------------

def test_the_visible_tests_replay_the_diagnosis_and_the_follow_through(capsys):
    text = " ".join(str(pytest.raises(judge.CheckFailed, visible_lstm.step_backward_values, lstm_step_forward,
                                      slipped_lstm_step_backward("f_sign")).value).split())
    assert "gate f's block, with the opposite sign; the blocks of i, g, o are right" in text
    assert "Path by path" in text
    visible_lstm.step_backward_values(ifog_step_forward, ifog_step_backward)
    assert "Right given your `lstm_step_forward`:" in capsys.readouterr().out
    with pytest.raises(judge.CheckFailed, match="not their derivative"):
        visible_lstm.step_backward_values(ifog_step_forward, lstm_step_backward)


# --- aliasing ----------------------------------------------------------------------------------

def test_a_gradient_that_is_its_input_fails_even_with_the_right_values():
    N, H = 3, 4
    x, h_prev = np.zeros((N, H)), np.zeros((N, H))
    Wx, Wh, b = np.ones((H, H)), np.eye(H), np.zeros(H)
    h, cache = elman_step_forward(x, h_prev, Wx, Wh, b)  # h = 0, so da = dh and dh_prev = dh @ I
    dh = np.random.default_rng(0).standard_normal((N, H))

    def elman_step_backward_student(dh, cache):
        dx, _, dWx, dWh, db = elman_step_backward(dh, cache)
        return dx, dh, dWx, dWh, db  # right values, but the caller's own dh

    with pytest.raises(judge.CheckFailed, match="`dh` itself, or a view sharing its memory"):
        gradients.judge_step_backward("elman", None, elman_step_backward_student, None, (dh,), None,
                                      elman_step_backward(dh, cache), cache=cache)


def test_rebinding_numpy_in_the_notebook_does_not_fool_the_judges(monkeypatch):
    for name in ("sum", "abs", "all", "allclose", "isfinite", "argmax"):
        monkeypatch.setattr(np, name, lambda *args, **kw: 0)
    with pytest.raises(judge.CheckFailed, match="not their derivative"):
        visible_lstm.step_backward_values(ifog_step_forward, lstm_step_backward)


def test_student_code_calling_the_judges_loop_is_a_forbidden_shortcut():
    def lstm_backward_student(dhs, cache):  # gets BPTT from the judge's own loop
        return gradients._run_steps_backward(gradients.LAYERS["lstm"], lstm_step_backward, cache, dhs)

    with pytest.raises(judge.ForbiddenShortcut, match="calls rnn_course.gradients"):
        lstm.backward_values(lstm_step_forward, lstm_step_backward, lstm_forward, lstm_backward_student)


def test_the_visible_sequence_tests_follow_through_from_the_stored_data(capsys):
    def ifog_forward(x, h0, Wx, Wh, b, c0=None):  # the solution's loop over a wrong step forward
        h, c, hs, caches = h0, np.zeros_like(h0) if c0 is None else c0, [], []
        for t in range(x.shape[1]):
            h, c, cache = ifog_step_forward(x[:, t], h, c, Wx, Wh, b)
            hs.append(h)
            caches.append(cache)
        return np.stack(hs, axis=1), caches

    visible_lstm.forward_values(ifog_step_forward, ifog_forward)
    assert capsys.readouterr().out.startswith("Right given your `lstm_step_forward`:")
    wrong_step = slipped_lstm_step_backward("dc_prev_without_f")

    def slipped_backward(dhs, caches):
        return bptt_loop(wrong_step, caches, dhs, 2)[0]

    visible_lstm.backward_values(lstm_step_forward, wrong_step, lstm_forward, slipped_backward)
    assert capsys.readouterr().out.startswith("Right given your `lstm_step_backward`:")
    with pytest.raises(judge.CheckFailed, match="Step by step"):  # right steps, a slipped loop
        visible_lstm.backward_values(lstm_step_forward, lstm_step_backward, lstm_forward, slipped_backward)
