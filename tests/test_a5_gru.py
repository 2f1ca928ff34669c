"""a5_gru: every mistake of the list scored in process, and a few graded for real.

Each mutant's expected failing tests and feedback phrase are checked in process
(tests/notebook_cells.py, milliseconds each). The solution, the blank copy and one notebook
carrying the COMBINED mutants (different answer cells, disjoint failing tests) go through the
real grader in one ``grade`` run (one kernel per notebook).
"""

import warnings

import nbformat
import pytest

import notebook_cells
from grading import combined_mutant, failed_tests, feedback_text, grade_all, points, solved, student_copy

A = "a5_gru"
STEP_FORWARD = {"test_step_forward_values", "test_step_forward_edge_sizes"}
STEP_BACKWARD = {"test_step_backward_values", "test_step_backward_edge_sizes"}
FORWARD = {"test_forward_values", "test_forward_edge_sizes"}
BACKWARD = {"test_backward_values", "test_backward_inputs_unchanged", "test_backward_edge_sizes"}
TORCH = {"test_to_torch_values", "test_to_torch_edge_sizes"}
NUMPY_GRU = STEP_FORWARD | STEP_BACKWARD | FORWARD | BACKWARD  # all that runs the step forward

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "z_on_the_other_side": ("answer_step_forward", [("h = (1 - z) * n + z * h_prev", "h = (1 - z) * h_prev + z * n")],
                            NUMPY_GRU, "z on the other side, h = (1-z)*h_prev + z*n"),
    "reset_before_product": ("answer_step_forward",
                             [("n = np.tanh(ax[:, 2 * H:] + r * hn)",
                               "n = np.tanh(ax[:, 2 * H:] + (r * h_prev) @ Wh[:, 2 * H:] + bh[2 * H:])")],
                             NUMPY_GRU, "resets before the product"),
    "gates_zrn": ("answer_step_forward",
                  [("r = sigmoid(ax[:, :H] + ah[:, :H])\n    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
                    "z = sigmoid(ax[:, :H] + ah[:, :H])\n    r = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])")],
                  NUMPY_GRU, "gates are ordered z,r,n; this course (like torch) uses r,z,n"),
    "bias_outside_reset": ("answer_step_forward",
                           [("ah = h_prev @ Wh + bh", "ah = h_prev @ Wh"),
                            ("r = sigmoid(ax[:, :H] + ah[:, :H])", "r = sigmoid(ax[:, :H] + ah[:, :H] + bh[:H])"),
                            ("z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
                             "z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H] + bh[H:2 * H])"),
                            ("n = np.tanh(ax[:, 2 * H:] + r * hn)", "n = np.tanh(ax[:, 2 * H:] + r * hn + bh[2 * H:])")],
                           NUMPY_GRU, "bhn outside the reset"),
    "weight_grads_not_summed": ("answer_backward",
                                [("dWx, dWh, dbx, dbh = dWx + dWx_t, dWh + dWh_t, dbx + dbx_t, dbh + dbh_t",
                                  "dWx, dWh, dbx, dbh = dWx_t, dWh_t, dbx_t, dbh_t")],
                                {"test_backward_values", "test_backward_edge_sizes"}, "the gradient of step t=0 alone"),
    "no_gradient_through_time": ("answer_backward",
                                 [("gru_step_backward(dhs[:, t] + dh_next, cache[t])",
                                   "gru_step_backward(dhs[:, t], cache[t])")],
                                 {"test_backward_values", "test_backward_edge_sizes"},
                                 "does not pass dh_prev from step t+1 back"),
    "torch_weight_reshaped": ("answer_to_torch", [("torch.from_numpy(Wx.T)", "torch.from_numpy(Wx.reshape(3 * H, D))")],
                              TORCH, "Wx.reshape(3H, D): a reshape keeps the memory order"),
    "torch_biases_swapped": ("answer_to_torch",
                             [("copy_(torch.from_numpy(bx))", "copy_(torch.from_numpy(BH))"),
                              ("copy_(torch.from_numpy(bh))", "copy_(torch.from_numpy(bx))"), ("BH", "bh")],
                             TORCH, "the two biases swapped"),
    "torch_not_batch_first": ("answer_to_torch", [("batch_first=True, ", "")], TORCH, "batch_first=False"),
    "calls_torch_gru_cell": ("answer_step_forward",
                             [("    H = h_prev.shape[1]\n",
                               "    cell = torch.nn.GRUCell(x.shape[1], h_prev.shape[1], dtype=torch.float64)\n"
                               "    with torch.no_grad():\n"
                               "        for p, v in zip(cell.parameters(), (Wx.T, Wh.T, bx, bh)):\n"
                               "            p.copy_(torch.from_numpy(v))\n"
                               "        return cell(torch.from_numpy(x), torch.from_numpy(h_prev)).numpy(), None\n")],
                             NUMPY_GRU | {"test_forward_inputs_unchanged"}, "asks for your own implementation"),
}

COMBINED = ("z_on_the_other_side", "torch_biases_swapped")


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_in_process_fails_exactly_its_tests_with_a_message_naming_the_mistake(name):
    cell, replacements, failing, phrase = MUTANTS[name]
    scores = notebook_cells.score(A, notebook_cells.edited_answers(A, cell, *replacements))
    assert notebook_cells.failed(scores) == failing
    assert any(phrase in message for _, message in scores.values())


def test_solution_in_process_passes_every_test():
    scores = notebook_cells.score(A, notebook_cells.edited_answers(A))
    assert notebook_cells.failed(scores) == set() and set(scores) == set(points(A))


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """The solution, the blank copy and the COMBINED mutants graded in one run."""
    notebooks = {"solution": solved(A), "blank": nbformat.read(str(student_copy(A)), as_version=4),
                 "combined": combined_mutant(A, MUTANTS, COMBINED)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return grade_all(A, notebooks, tmp_path_factory.mktemp("a5"), nested={"solution"}, seed=5)


def test_solution_gets_full_marks(graded):
    result = graded[0]["solution"]
    assert result.reason == ""
    assert result.total == result.max_total == sum(points(A).values())


def test_blank_student_copy_scores_zero(graded):
    result = graded[0]["blank"]
    assert result.reason == "" and result.total == 0


def test_combined_mutant_loses_exactly_its_mistakes_tests_and_feedback_names_each(graded):
    results, out = graded
    failing = set().union(*(MUTANTS[name][2] for name in COMBINED))
    assert failed_tests(results["combined"]) == failing
    assert results["combined"].total == sum(points(A).values()) - sum(points(A)[t] for t in failing)
    for name in COMBINED:
        assert MUTANTS[name][3] in feedback_text(out, "combined")


def test_feedback_shows_no_hidden_test(graded):
    results, out = graded
    for student in results:
        text = feedback_text(out, student)
        assert "HIDDEN TESTS" not in text and "check.to_torch_edge_sizes" not in text
