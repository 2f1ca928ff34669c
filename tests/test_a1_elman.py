"""a1_elman: the mistake list scored in process and graded for real, and a1's own grader tests.

The shared tests are those of ``grading.AssignmentTests``: one ``grade`` run (one kernel per
notebook) of the solution, the blank copy and the mutants, where mutants that edit different
answers and fail disjoint tests share a notebook. a1 adds a noisy correct answer and a file that
is not a notebook to that run, and checks the CSV, the hidden-test feedback and a second run.
"""

import nbformat

from grading import AssignmentTests, failed_tests, feedback_text, grade_all, points, read_csv, solved

A = "a1_elman"
FORWARD_TESTS = {"test_forward_values", "test_forward_edge_sizes"}
PREDICT_TESTS = {"test_predict_values", "test_predict_edge_sizes"}
UNROLL_TESTS = {"test_unroll_order", "test_unroll_elman", "test_unroll_single_step"}
STEP_TESTS = {"test_step_values", "test_step_single_unit"}
STEP_LINE = "h, cache = elman_step_forward(x[:, t], h, Wx, Wh, b)"

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "missing_tanh": ("answer_state_output",
                     [("return np.tanh(x @ Wx + h_prev @ Wh + b)", "return x @ Wx + h_prev @ Wh + b")],
                     {"test_state_values", "test_state_single_unit"},  # predict: follow-through
                     "without the tanh"),
    "softmax_unstable": ("answer_state_output",
                         [("np.exp(scores - scores.max(axis=-1, keepdims=True))", "np.exp(scores)")],
                         {"test_output_large_scores"}, "NaN or infinity"),
    "softmax_batch_axis": ("answer_state_output",
                           [("max(axis=-1", "max(axis=0"), ("sum(axis=-1", "sum(axis=0")],
                           {"test_output_values", "test_output_large_scores"}, "over the batch axis"),
    "states_with_s0": ("answer_unroll", [("states, ys = [], []", "states, ys = [s0], []")],
                       UNROLL_TESTS, "without s0"),
    "output_from_previous_state": (
        "answer_unroll",
        [("s = R(s, xs[:, t])\n        states.append(s)\n        ys.append(O(s))",
          "ys.append(O(s))\n        s = R(s, xs[:, t])\n        states.append(s)")],
        UNROLL_TESTS, "from the previous state"),
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
    # --- written from what students get wrong (issue #16): loop slips, follow-through, properties
    "softmax_global_max": ("answer_state_output",
                           [("scores.max(axis=-1, keepdims=True)", "scores.max()")],
                           {"test_output_large_scores"}, "each row's own maximum"),
    "R_Wh_transposed": ("answer_state_output",
                        [("return np.tanh(x @ Wx + h_prev @ Wh + b)", "return np.tanh(x @ Wx + h_prev @ Wh.T + b)")],
                        {"test_state_values"}, "Wh transposed"),
    "R_arguments_swapped": ("answer_state_output", [("def R(h_prev, x):", "def R(x, h_prev):")],
                            {"test_state_shape", "test_state_values", "test_state_single_unit"} | PREDICT_TESTS,
                            "two inputs swapped"),
    "unroll_stops_early": ("answer_unroll", [("range(xs.shape[1])", "range(xs.shape[1] - 1)")],
                           UNROLL_TESTS | PREDICT_TESTS, "misses one step"),  # crashes for T = 1
    "unroll_restarts_from_s0": ("answer_unroll", [("s = R(s, xs[:, t])", "s = R(s0, xs[:, t])")],
                                {"test_unroll_order", "test_unroll_elman"}, "start again from s0"),
    "unroll_time_first": ("answer_unroll", [("np.stack(ys, axis=1)", "np.array(ys)")],
                          UNROLL_TESTS, "np.stack(ys, axis=1)"),
    "predict_from_zeros": ("answer_predict", [("h0, xs)", "np.zeros_like(h0), xs)")],
                           PREDICT_TESTS, "starts from zeros instead of h0"),
    "step_sigmoid": ("answer_step", [("h = np.tanh(x @ Wx + h_prev @ Wh + b)",
                                      "h = 1 / (1 + np.exp(-(x @ Wx + h_prev @ Wh + b)))")],
                     STEP_TESTS, "sigmoid in place of the tanh"),
    "step_without_bias": ("answer_step", [("h = np.tanh(x @ Wx + h_prev @ Wh + b)", "h = np.tanh(x @ Wx + h_prev @ Wh)")],
                          STEP_TESTS, "without the bias b"),
    "step_writes_into_h_prev": ("answer_step", [("h = np.tanh(x @ Wx + h_prev @ Wh + b)",
                                                 "h_prev[:] = np.tanh(x @ Wx + h_prev @ Wh + b)\n    h = h_prev")],
                                STEP_TESTS | {"test_forward_inputs_unchanged"}, "modified its input `h_prev`"),
    "forward_starts_at_1": ("answer_forward", [("for t in range(T):", "for t in range(1, T):")],
                            FORWARD_TESTS, "starts at t=1"),
    "forward_stops_early": ("answer_forward", [("for t in range(T):", "for t in range(T - 1):")],
                            FORWARD_TESTS, "stops one step early"),
    "forward_stores_previous_state": ("answer_forward", [(STEP_LINE + "\n        hs[:, t] = h",
                                                          "hs[:, t] = h\n        " + STEP_LINE)],
                                      FORWARD_TESTS, "shifted by one step"),
    "forward_reads_previous_input": ("answer_forward", [("x[:, t]", "x[:, t - 1]")],
                                     FORWARD_TESTS, "x[:, t - 1]"),
    "forward_backwards_in_time": ("answer_forward", [("for t in range(T):", "for t in reversed(range(T)):")],
                                  FORWARD_TESTS, "backwards in time"),
    "forward_store_after_loop": ("answer_forward", [("        hs[:, t] = h\n        caches.append(cache)",
                                                     "        caches.append(cache)\n    hs[:, t] = h")],
                                 FORWARD_TESTS, "only the last step stored"),
    "forward_integer_states": ("answer_forward", [("hs = np.zeros((N, T, h0.shape[1]))",
                                                   "hs = np.zeros((N, T, h0.shape[1]), dtype=int)")],
                               FORWARD_TESTS, "integer array"),
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


class TestA1Elman(AssignmentTests):
    assignment, mutants, seed, nested = A, MUTANTS, 1234, {"solution", "blank"}
    # Notebooks: each carries mutants of different answers with disjoint failing tests.
    graded_mutants = {"group1": ("missing_tanh", "states_with_s0", "Wh_transposed"),
                      "group2": ("softmax_unstable", "output_from_previous_state", "h0_overwritten",
                                 "step_sigmoid"),
                      "group3": ("softmax_batch_axis", "calls_rnn_ref"),
                      "group4": ("h0_ignored",)}

    @classmethod
    def submissions(cls):
        noisy = solved(A, answer_step=NOISY_STEP)
        install = next(c for c in noisy.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "install")
        install.outputs = [nbformat.v4.new_output("stream", name="stdout", text="rnn-course-student 0.0.9\n")]
        return {**super().submissions(), "noisy": noisy, "not_json": b"{ this is not json"}

    def test_a_notebook_checked_with_another_package_version_is_noted(self, graded):
        """The noisy notebook's first cell printed an older rnn-course-student: full marks, and a note."""
        results, out = graded
        assert results["noisy"].total == results["noisy"].max_total
        note = "checked with rnn-course-student 0.0.9"
        assert note in read_csv(out)["noisy"]["reason"]
        assert note in feedback_text(out, "noisy")
        assert "rnn-course-student" not in read_csv(out)["solution"]["reason"]

    def test_warnings_and_stderr_in_a_correct_answer_cost_nothing(self, graded):
        results, out = graded
        assert results["noisy"].total == results["noisy"].max_total, failed_tests(results["noisy"])
        text = feedback_text(out, "noisy")
        assert "raised a warning (a warning alone costs no points): UserWarning: To copy construct from a tensor" in text

    def test_not_json_scores_zero_with_a_reason(self, graded):
        results, out = graded
        assert results["not_json"].total == 0
        assert "not a readable notebook" in read_csv(out)["not_json"]["reason"]
        assert "could not be graded" in feedback_text(out, "not_json")

    def test_csv_has_a_row_per_student_with_each_test(self, graded):
        results, out = graded
        rows = read_csv(out)
        assert set(rows) == set(results)
        assert float(rows["solution"]["total"]) == float(rows["solution"]["max"]) == sum(points(A).values())
        assert float(rows["group1"]["test_forward_values"]) == 0
        assert float(rows["group1"]["test_output_values"]) == points(A)["test_output_values"]

    def test_feedback_keeps_the_message_of_a_failed_hidden_test(self, graded):
        """(That no hidden code is shown is the shared test_feedback_shows_no_hidden_test.)"""
        results, out = graded
        # group1's Wh.T fails the hidden edge-size test too: its message is shown, not its code
        assert results["group1"].scores["test_forward_edge_sizes"] == 0
        assert "CheckFailed: Your `hs` matches an Elman RNN with Wh transposed" in feedback_text(out, "group1")

    def test_follow_through_is_said_in_the_feedback(self, graded):
        """group1's R lacks the tanh, group2's step has a sigmoid: predict and the forward built on
        them are graded on their own, and the feedback says so."""
        results, out = graded
        assert results["group1"].scores["test_predict_values"] == points(A)["test_predict_values"]
        assert ("Right given your `unroll`, `make_state_function` and `make_output_function`: `ys`"
                in feedback_text(out, "group1"))
        assert results["group2"].scores["test_forward_values"] == points(A)["test_forward_values"]
        assert "Right given your `elman_step_forward`: `hs`" in feedback_text(out, "group2")

    def test_grading_twice_gives_identical_grades(self, graded, tmp_path):
        """A second run on two of the same notebooks, with another seed, agrees test by test."""
        again = {name: nb for name, nb in self.submissions().items() if name in ("solution", "group1")}
        second, _ = grade_all(A, again, tmp_path, seed=99)
        for name in again:
            assert second[name].scores == graded[0][name].scores
