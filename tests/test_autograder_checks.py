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
