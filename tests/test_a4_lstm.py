"""a4_lstm: every mistake of the list scored in process, and a few graded for real.

Each mutant's expected failing tests and feedback phrase are checked in process
(tests/notebook_cells.py, milliseconds each). The solution, the blank copy and the mutants in
GRADED go through the real grader in one ``grade`` run (one kernel per notebook).
"""

import warnings

import nbformat
import pytest

import notebook_cells
from grading import failed_tests, feedback_text, grade_all, mutant, points, solved, student_copy

A = "a4_lstm"
STEP_FORWARD = {"test_step_forward_values", "test_step_forward_edge_sizes"}
STEP_BACKWARD = {"test_step_backward_values", "test_step_backward_edge_sizes"}
FORWARD = {"test_forward_values", "test_forward_without_c0", "test_forward_edge_sizes"}
BACKWARD = {"test_backward_values", "test_backward_inputs_unchanged", "test_backward_edge_sizes"}
EVERYTHING_BUT_INPUTS = STEP_FORWARD | STEP_BACKWARD | FORWARD | BACKWARD
STEP_CALL = "lstm_step_backward(dhs[:, t] + dh_next, dc_next, cache[t])"

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "gates_ifog": ("answer_step_forward",
                   [("g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
                     "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])")],
                   EVERYTHING_BUT_INPUTS, "gates are ordered i,f,o,g; this course (like torch) uses i,f,g,o"),
    "cell_sigmoid": ("answer_step_forward", [("c = f * c_prev + i * g", "c = sigmoid(f * c_prev + i * g)")],
                     EVERYTHING_BUT_INPUTS, "c = sigmoid(f*c_prev + i*g)"),
    "missing_tanh": ("answer_step_forward", [("h = o * tanh_c", "h = o * c")],
                     EVERYTHING_BUT_INPUTS, "h = o * c, without the tanh"),
    "candidate_sigmoid": ("answer_step_forward", [("g = np.tanh(a[:, 2 * H:3 * H])", "g = sigmoid(a[:, 2 * H:3 * H])")],
                          EVERYTHING_BUT_INPUTS, "candidate g goes through a sigmoid"),
    "output_reads_old_cell": ("answer_step_forward", [("tanh_c = np.tanh(c)", "tanh_c = np.tanh(c_prev)")],
                              EVERYTHING_BUT_INPUTS, "h = o * tanh(c_prev)"),
    "upstream_dc_ignored": ("answer_step_backward",
                            [("dc_total = dc + dh * o", "dc_total = dh * o")],
                            STEP_BACKWARD | BACKWARD - {"test_backward_inputs_unchanged"},
                            "without the upstream dc"),
    "c0_ignored": ("answer_forward", [("c = np.zeros_like(h0) if c0 is None else c0", "c = np.zeros_like(h0)")],
                   FORWARD - {"test_forward_without_c0"} | BACKWARD, "started from c0 = 0"),
    "weight_grads_not_summed": ("answer_backward",
                                [("dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
                                  "dWx, dWh, db = dWx_t, dWh_t, db_t")],
                                {"test_backward_values", "test_backward_edge_sizes"},
                                "the gradient of step t=0 alone"),
    "dh0_missing": ("answer_backward", [("return np.stack(dxs, axis=1), dh_next,",
                                         "return np.stack(dxs, axis=1), np.zeros_like(dh_next),")],
                    {"test_backward_values", "test_backward_edge_sizes"}, "`dh0` matches zeros everywhere"),
    "dWh_transposed": ("answer_step_backward", [("h_prev.T @ da", "da.T @ h_prev")],
                       STEP_BACKWARD | BACKWARD - {"test_backward_inputs_unchanged"}, "are the axes swapped?"),
    "dc0_missing": ("answer_backward", [("dWh, db, dc_next", "dWh, db")],
                    BACKWARD, "should return a tuple of 6 items"),
    "dhs_written": ("answer_backward",
                    [(f"= {STEP_CALL}", f"= lstm_step_backward(dhs[:, t], dc_next, cache[t])"),
                     ("    for t in reversed(range(T)):\n",
                      "    for t in reversed(range(T)):\n        dhs[:, t] += dh_next  # writes into the caller's dhs\n")],
                    {"test_backward_inputs_unchanged"}, "modified its input `dhs`"),
    "calls_rnn_ref": ("answer_forward",
                      [("    h = h0\n", "    from rnn_ref.lstm import lstm_forward as reference\n"
                                        "    return reference(x, h0, Wx, Wh, b, c0)\n")],
                      FORWARD | BACKWARD | {"test_forward_inputs_unchanged"}, "asks for your own implementation"),
}
GRADED = ("gates_ifog", "weight_grads_not_summed", "calls_rnn_ref")


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
    """Every a4 submission graded in one run: (results by student, output folder)."""
    notebooks = {"solution": solved(A), "blank": nbformat.read(str(student_copy(A)), as_version=4),
                 **{name: mutant(A, MUTANTS[name][0], *MUTANTS[name][1]) for name in GRADED}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return grade_all(A, notebooks, tmp_path_factory.mktemp("a4"), nested={"solution"}, seed=4321)


def test_solution_gets_full_marks(graded):
    result = graded[0]["solution"]
    assert result.reason == ""
    assert result.total == result.max_total == sum(points(A).values())


def test_blank_student_copy_scores_zero(graded):
    result = graded[0]["blank"]
    assert result.reason == "" and result.total == 0


@pytest.mark.parametrize("name", GRADED)
def test_graded_mutant_loses_exactly_its_tests_and_feedback_names_the_mistake(graded, name):
    results, out = graded
    _, _, failing, phrase = MUTANTS[name]
    result = results[name]
    assert failed_tests(result) == failing
    assert result.total == sum(points(A).values()) - sum(points(A)[t] for t in failing)
    assert phrase in feedback_text(out, name)


def test_feedback_shows_no_hidden_test(graded):
    results, out = graded
    for student in results:
        text = feedback_text(out, student)
        assert "HIDDEN TESTS" not in text and "check.backward_edge_sizes" not in text
