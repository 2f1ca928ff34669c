"""The check helpers in-process (no kernel): messages, usual mistakes, shortcuts, stderr, tampering."""

import sys
import warnings

import numpy as np
import pytest

from autograder.checks import common, elman
from autograder.checks.common import CheckFailed, ForbiddenShortcut, assert_close, call_student
from rnn_ref.elman import elman_forward


def test_message_names_output_place_and_first_wrong_step():
    expected = np.zeros((2, 4, 3))
    got = expected.copy()
    got[1, 2, 0] = 0.5
    got[0, 3, 1] = 0.1
    with pytest.raises(CheckFailed) as info:
        assert_close("hs", got, expected, axes=("batch row", "time step t", "unit"))
    message = str(info.value)
    assert "`hs` is wrong: largest error 0.5 at batch row 1, time step t 2, unit 0" in message
    assert "first wrong time step is t=2" in message


def test_message_names_the_gate_block():
    got = np.zeros((2, 8))
    got[0, 5] = 1.0
    with pytest.raises(CheckFailed, match=r"unit 5 \(gate g, unit 1\)"):
        assert_close("a", got, np.zeros((2, 8)), axes=("batch row", "unit"), blocks=("i", "f", "g", "o"))


def test_a_usual_mistake_is_named_and_shapes_are_explained():
    expected, mistake = np.ones((2, 3)), 2 * np.ones((2, 3))
    with pytest.raises(CheckFailed, match="matches the doubled answer"):
        assert_close("y", mistake, expected, variants={"the doubled answer": lambda: mistake,
                                                       "a variant that fails to build": lambda: 1 / 0})
    with pytest.raises(CheckFailed, match=r"shape \(3, 2\); expected \(2, 3\).*axes swapped"):
        assert_close("y", np.ones((3, 2)), expected)
    with pytest.raises(CheckFailed, match="forget to `return`"):
        assert_close("y", None, expected)


def test_redefining_numpy_in_the_student_namespace_does_not_fool_a_check(monkeypatch):
    for name in ("allclose", "abs", "all", "max", "isfinite", "array_equal"):
        monkeypatch.setattr(np, name, lambda *a, **k: True)
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    with pytest.raises(CheckFailed):
        assert_close("h", np.ones(3), np.zeros(3))


def test_unanswered_stub_and_shape_errors_read_well():
    def stub(x):
        raise NotImplementedError()

    def wrong_product(x, W):
        return W @ x

    with pytest.raises(CheckFailed, match="not implemented yet"):
        call_student(stub, np.ones(2))
    with pytest.raises(CheckFailed, match="raised ValueError.*row vectors"):
        call_student(wrong_product, np.ones((2, 3)), np.ones((3, 4)), shape_hint="row vectors")

    def array_as_condition(x):
        return x if x else -x  # numpy: the truth value of an array is ambiguous

    with pytest.raises(CheckFailed, match="ambiguous") as failed:
        call_student(array_as_condition, np.ones(3), shape_hint="row vectors")
    assert "row vectors" not in str(failed.value)  # not a shape error: no shape hint


def test_inputs_written_in_place_are_reported():
    def scale(x):
        x *= 2
        return x

    x = np.arange(3.0)
    call = call_student(scale, x)
    assert np.array_equal(x, np.arange(3.0))  # the student worked on a copy
    with pytest.raises(CheckFailed, match=r"modified its input `x` in place \(entry \(2,\) changed from 2 to 4\)"):
        common.assert_unchanged(call, "scale")

    def nudge(x):
        x += 1e-9
        return x

    call = call_student(nudge, np.full(2, 1.39403))
    with pytest.raises(CheckFailed, match=r"changed from 1\.39403 to 1\.39403000\d*"):
        common.assert_unchanged(call, "nudge")  # a change below six digits shows every digit


def _helper_calling_rnn_ref(x, h0, Wx, Wh, b):
    return elman_forward(x, h0, Wx, Wh, b)


def test_calling_rnn_ref_even_through_a_helper_is_a_forbidden_shortcut():
    def my_forward(x, h0, Wx, Wh, b):
        return _helper_calling_rnn_ref(x, h0, Wx, Wh, b)

    p = elman.draw(np.random.default_rng(0))
    args = [p[k] for k in ("x", "h0", "Wx", "Wh", "b")]
    with pytest.raises(ForbiddenShortcut, match=r"calls rnn_ref\.elman\.elman_forward"):
        call_student(my_forward, *args)
    # Where only part of rnn_ref is forbidden, the rest may be used.
    call_student(my_forward, *args, own_implementation=("rnn_ref.bptt.truncated_bptt",))
    call_student(my_forward, *args, own_implementation=False)


def test_a_torch_rnn_module_is_a_forbidden_shortcut():
    torch = pytest.importorskip("torch")
    rnn = torch.nn.RNN(3, 4, batch_first=True).double()

    def forward_with_torch(x):
        with torch.no_grad():
            return rnn(torch.from_numpy(x))[0].numpy()

    with pytest.raises(ForbiddenShortcut, match="torch"):
        call_student(forward_with_torch, np.ones((2, 5, 3)))


def test_a_correct_answer_that_warns_writes_nothing_to_stderr(capfd):
    torch = pytest.importorskip("torch")

    def noisy(x):
        warnings.warn("harmless", UserWarning)
        np.log(np.zeros(1))  # RuntimeWarning from numpy
        torch.tensor(torch.ones(1))  # torch's UserWarning: copy construct from a tensor
        print("debugging", file=sys.stderr)
        return x

    capfd.readouterr()
    call = call_student(noisy, np.ones(2), own_implementation=False)
    out, err = capfd.readouterr()
    assert err == ""
    assert "harmless" in out and "debugging" in out
    assert len(call.warned) == 3


def test_seeded_streams_depend_on_run_seed_and_test_name(monkeypatch):
    monkeypatch.setattr(common, "_seed", 5)
    a, b = common.rng("t").standard_normal(3), common.rng("t").standard_normal(3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, common.rng("u").standard_normal(3))
    monkeypatch.setattr(common, "_seed", 6)
    assert not np.array_equal(a, common.rng("t").standard_normal(3))


def test_importing_rnn_ref_in_the_answer_is_flagged_but_mentioning_it_is_not():
    def imports_it(x):
        import rnn_ref  # noqa: F401 (unused: importing is enough to be flagged)
        return x

    def mentions_it(x):
        # written without rnn_ref, as the exercise asks
        label = "my own rnn_ref-free code"
        return x if label else None

    with pytest.raises(ForbiddenShortcut, match="uses rnn_ref"):
        call_student(imports_it, np.ones(2))
    call_student(mentions_it, np.ones(2))


def test_aliasing_is_observed_for_views_and_the_same_object_but_not_for_new_arrays():
    def returns_input(x, W):
        return x

    def returns_view(x, W):
        return x.T[::-1], W @ W

    def returns_new(x, W):
        return x + 0, {"W": W.copy()}

    def returns_cache(x, W):
        return x @ W, (x, W)

    def returns_own_dict(grads):
        return grads

    x, W = np.ones((2, 3)), np.eye(3)
    assert call_student(returns_input, x, W).aliased == [("the result", "x")]
    assert call_student(returns_view, x, W, outputs=("y", "W2")).aliased == [("y", "x")]
    assert call_student(returns_new, x, W).aliased == []
    call = call_student(returns_cache, x, W, outputs=("h", "cache"))
    assert call.aliased == [("cache[0]", "x"), ("cache[1]", "W")]
    common.assert_not_aliased(call, "step", outputs=("h",))  # a cache may hold the inputs
    with pytest.raises(CheckFailed, match=r"`cache\[0\]` returned by `step` is its input `x` itself"):
        common.assert_not_aliased(call, "step")
    with pytest.raises(CheckFailed, match="The result returned by `f` is its input `x`.*change the caller's `x`"):
        common.assert_not_aliased(call_student(returns_input, x, W), "f")
    grads = {"Wx": np.ones(2)}
    assert call_student(returns_own_dict, grads).aliased == [("the result", "grads")]


def test_two_mistakes_that_give_the_same_numbers_are_both_named_none_as_certain():
    expected, mistake = np.ones((1, 1)), np.full((1, 1), 3.0)
    with pytest.raises(CheckFailed) as info:
        assert_close("h", mistake, expected, variants={"Wh transposed": mistake, "Wx transposed": mistake + 0,
                                                       "no bias": 2 * mistake})
    message = str(info.value)
    assert "matches 2 usual mistakes equally" in message and "cannot tell which" in message
    assert "(1) Wh transposed; (2) Wx transposed" in message and "no bias" not in message


def test_a_mistake_that_overflows_is_named_by_where_it_does():
    expected = np.full((2, 2), 0.5)
    nan_rows = np.array([[0.5, 0.5], [np.nan, np.nan]])
    with pytest.raises(CheckFailed, match="matches the global maximum.*NaN or infinity"):
        assert_close("p", nan_rows, expected, variants={"the global maximum": nan_rows.copy(),
                                                        "NaN elsewhere": nan_rows[::-1]})


def test_stability_check_says_which_scales_break():
    def softmax(s, row_max):
        e = np.exp(s - (s.max(axis=1, keepdims=True) if row_max else s.max()))
        return e / e.sum(axis=1, keepdims=True)

    scores, scales = common.mixed_scales(np.random.default_rng(0).standard_normal((4, 3)) + 1.0)
    assert list(scales) == [1e3, 1e-3, 1e3, 1e-3]
    with np.errstate(all="ignore"):
        got = softmax(scores, row_max=False)
    common.assert_stable("p", softmax(scores, True), softmax(scores, True), row_scales=scales)
    with pytest.raises(CheckFailed) as info:
        common.assert_stable("p", got, softmax(scores, True), row_scales=scales,
                             variants={"a softmax shifted by the global maximum": lambda: got.copy()})
    message = str(info.value)
    assert "right on the rows of inputs scaled by 1000 but wrong on the rows scaled by 0.001" in message
    assert "matches a softmax shifted by the global maximum" in message


def test_follow_through_credits_an_answer_right_for_the_students_own_earlier_function(capsys):
    """A backward that is the derivative of the student's (wrong) forward passes and says so; one
    wrong for it fails and says that too; with a right forward nothing is followed through."""
    x, w = np.random.default_rng(1).standard_normal((2, 3)), np.random.default_rng(2).standard_normal((2, 3))
    right_forward, wrong_forward = (lambda x: (np.sin(x), None)), (lambda x: (np.cos(x), None))
    given = lambda forward: common.Given.gradient("my_forward", forward, [x], 0, weight=w)  # noqa: E731
    assert_close("dx", -np.sin(x) * w, np.cos(x) * w, given=given(wrong_forward))
    assert capsys.readouterr().out.startswith("Right given your `my_forward`: `dx` is not the reference")
    with pytest.raises(CheckFailed, match="not right given your `my_forward` either"):
        assert_close("dx", np.sin(x) * w, np.cos(x) * w, given=given(wrong_forward))
    with pytest.raises(CheckFailed) as info:
        assert_close("dx", -np.sin(x) * w, np.cos(x) * w, given=given(right_forward))
    assert "given your" not in str(info.value)

    def step(x_t, h, W):  # a wrong step (no tanh); the sequence below is right for it
        return x_t + h @ W, None

    xs, h0, W = np.ones((2, 4, 3)), np.zeros((2, 3)), 0.5 * np.eye(3)
    hs, h = [], h0
    for t in range(4):
        h = step(xs[:, t], h, W)[0]
        hs.append(h)
    expected = np.tanh(np.stack(hs, axis=1))  # stands for the reference
    assert_close("hs", np.stack(hs, axis=1), expected, given=common.Given.recurrence("step", step, xs, h0, W))
    assert "Right given your `step`:" in capsys.readouterr().out
