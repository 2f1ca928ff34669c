"""a1_elman graded for real: the solution, the blank copy, mutants from the mistake list, bad files.

One session fixture grades every submission in one ``grade`` run (one kernel per notebook).
Mutants that edit different answers and fail disjoint tests share a notebook.
"""

import warnings

import nbformat
import pytest

from grading import (combined_mutant, failed_tests, feedback_text, grade_all, points, read_csv,
                     solved, student_copy)

A = "a1_elman"
FORWARD_TESTS = {"test_forward_values", "test_forward_edge_sizes"}
PREDICT_TESTS = {"test_predict_values", "test_predict_edge_sizes"}
UNROLL_TESTS = {"test_unroll_order", "test_unroll_elman", "test_unroll_single_step"}
STEP_LINE = "h, cache = elman_step_forward(x[:, t], h, Wx, Wh, b)"

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "missing_tanh": ("answer_state_output",
                     [("return np.tanh(x @ Wx + h_prev @ Wh + b)", "return x @ Wx + h_prev @ Wh + b")],
                     {"test_state_values", "test_state_single_unit"} | PREDICT_TESTS,
                     "without the tanh"),
    "softmax_unstable": ("answer_state_output",
                         [("np.exp(scores - scores.max(axis=-1, keepdims=True))", "np.exp(scores)")],
                         {"test_output_large_scores"}, "NaN or infinity"),
    "softmax_batch_axis": ("answer_state_output",
                           [("max(axis=-1", "max(axis=0"), ("sum(axis=-1", "sum(axis=0")],
                           {"test_output_values", "test_output_large_scores"} | PREDICT_TESTS,
                           "over the batch axis"),
    "states_with_s0": ("answer_unroll", [("states, ys = [], []", "states, ys = [s0], []")],
                       UNROLL_TESTS, "without s0"),
    "output_from_previous_state": (
        "answer_unroll",
        [("s = R(s, xs[:, t])\n        states.append(s)\n        ys.append(O(s))",
          "ys.append(O(s))\n        s = R(s, xs[:, t])\n        states.append(s)")],
        UNROLL_TESTS | PREDICT_TESTS, "from the previous state"),
    "Wh_transposed": ("answer_forward", [(STEP_LINE, STEP_LINE.replace("Wh, b", "Wh.T, b"))],
                      FORWARD_TESTS, "Wh transposed"),
    "h0_ignored": ("answer_forward", [("h = h0", "h = np.zeros_like(h0)")], FORWARD_TESTS,
                   "starts from zeros instead of h0"),
    "h0_overwritten": ("answer_forward",
                       [(STEP_LINE + "\n        hs[:, t] = h",
                         STEP_LINE.replace("h, cache", "h_new, cache")
                         + "\n        h[:] = h_new  # h is h0 at t = 0: this writes into h0"
                           "\n        hs[:, t] = h")],
                       {"test_forward_inputs_unchanged"}, "modified its input"),
    "calls_rnn_ref": ("answer_step",
                      [("h = np.tanh(x @ Wx + h_prev @ Wh + b)\n    return h, (x, h_prev, Wx, Wh, h)",
                        "from rnn_ref.elman import elman_step_forward as reference\n"
                        "    return reference(x, h_prev, Wx, Wh, b)")],
                      {"test_step_values", "test_step_single_unit", "test_forward_shape",
                       "test_forward_inputs_unchanged"} | FORWARD_TESTS,
                      "asks for your own implementation"),
}

# A correct answer whose code warns (itself, numpy, torch) and writes to stderr keeps every point.
NOISY_STEP = '''
import sys
import warnings

import torch

def elman_step_forward(x, h_prev, Wx, Wh, b):
    warnings.warn("a harmless warning from a correct answer", UserWarning)
    np.log(np.zeros(1))  # numpy RuntimeWarning: divide by zero
    torch.tensor(torch.ones(1))  # torch UserWarning: copy construct from a tensor
    print("debug output on stderr", file=sys.stderr)
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)
'''


# Notebooks: each carries mutants of different answers with disjoint failing tests.
GROUPS = [("missing_tanh", "states_with_s0", "Wh_transposed"),
          ("softmax_unstable", "output_from_previous_state", "h0_overwritten"),
          ("softmax_batch_axis", "calls_rnn_ref"),
          ("h0_ignored",)]


def _student(group):
    return f"group{GROUPS.index(group) + 1}"


def _submissions():
    notebooks = {"solution": solved(A), "blank": nbformat.read(str(student_copy(A)), as_version=4),
                 "noisy": solved(A, answer_step=NOISY_STEP), "not_json": b"{ this is not json"}
    notebooks.update({_student(g): combined_mutant(A, MUTANTS, g) for g in GROUPS})
    return notebooks


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Every a1 submission graded in one run: (results by student, output folder)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return grade_all(A, _submissions(), tmp_path_factory.mktemp("a1"),
                         nested={"solution", "blank"}, seed=1234)


def test_solution_gets_full_marks(graded):
    result = graded[0]["solution"]
    assert result.reason == ""
    assert result.total == result.max_total == sum(points(A).values())


def test_blank_student_copy_scores_zero(graded):
    result = graded[0]["blank"]
    assert result.reason == "" and result.total == 0


def test_warnings_and_stderr_in_a_correct_answer_cost_nothing(graded):
    results, out = graded
    assert results["noisy"].total == results["noisy"].max_total, failed_tests(results["noisy"])
    text = feedback_text(out, "noisy")
    assert "raised a warning (no points lost): UserWarning: To copy construct from a tensor" in text


def test_not_json_scores_zero_with_a_reason(graded):
    results, out = graded
    assert results["not_json"].total == 0
    assert "not a readable notebook" in read_csv(out)["not_json"]["reason"]
    assert "could not be graded" in feedback_text(out, "not_json")


@pytest.mark.parametrize("group", GROUPS, ids="+".join)
def test_mutants_lose_exactly_their_tests_and_feedback_names_each_mistake(graded, group):
    results, out = graded
    result = results[_student(group)]
    expected = set().union(*(MUTANTS[name][2] for name in group))
    assert failed_tests(result) == expected
    assert result.total == sum(points(A).values()) - sum(points(A)[t] for t in expected)
    text = feedback_text(out, _student(group))
    for name in group:
        assert MUTANTS[name][3] in text, name


def test_csv_has_a_row_per_student_with_each_test(graded):
    results, out = graded
    rows = read_csv(out)
    assert set(rows) == set(results)
    assert float(rows["solution"]["total"]) == float(rows["solution"]["max"]) == sum(points(A).values())
    assert float(rows["group1"]["test_forward_values"]) == 0
    assert float(rows["group1"]["test_step_values"]) == points(A)["test_step_values"]


def test_feedback_shows_no_hidden_test_but_keeps_its_message(graded):
    results, out = graded
    for student in results:
        text = feedback_text(out, student)
        assert "HIDDEN TESTS" not in text
        assert "check.state_single_unit" not in text and "check.forward_edge_sizes" not in text
    assert "(hidden tests: their code is not shown)" in feedback_text(out, "solution")
    # group1's Wh.T fails the hidden edge-size test too: its message is shown, not its code
    assert results["group1"].scores["test_forward_edge_sizes"] == 0
    assert "CheckFailed: Your `hs` matches an Elman RNN with Wh transposed" in feedback_text(out, "group1")


def test_grading_twice_gives_identical_grades(graded, tmp_path):
    """A second run on two of the same notebooks, with another seed, agrees test by test."""
    again = {name: nb for name, nb in _submissions().items() if name in ("solution", "group1")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        second, _ = grade_all(A, again, tmp_path, seed=99)
    for name in again:
        assert second[name].scores == graded[0][name].scores
