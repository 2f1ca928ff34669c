"""a4_lstm: every mistake of the list scored in process, and a few graded for real.

The shared tests are those of ``grading.AssignmentTests``: each mutant's failing tests and
feedback phrase checked in process, then the solution, the blank copy and the graded mutants
(one notebook each) through the real grader in one ``grade`` run.
"""

from grading import AssignmentTests

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


class TestA4Lstm(AssignmentTests):
    assignment, mutants, seed, nested = A, MUTANTS, 4321, {"solution"}
    graded_mutants = {name: (name,) for name in ("gates_ifog", "weight_grads_not_summed", "calls_rnn_ref")}
