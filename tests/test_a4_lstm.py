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
# A wrong step forward costs its own tests and the step backward's (which is not the derivative of
# that forward); the sequence tests credit work right given it (follow-through).
WRONG_STEP = STEP_FORWARD | STEP_BACKWARD
# A wrong step backward costs its own tests only: BPTT right given it gets its points.
WRONG_STEP_BACKWARD = STEP_BACKWARD
BACKWARD_VALUES = {"test_backward_values", "test_backward_edge_sizes"}
STEP_CALL = "lstm_step_backward(dhs[:, t] + dh_next, dc_next, cache[t])"

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "gates_ifog": ("answer_step_forward",
                   [("g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
                     "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])")],
                   WRONG_STEP, "gates are ordered i,f,o,g; this course (like torch) uses i,f,g,o"),
    "cell_sigmoid": ("answer_step_forward", [("c = f * c_prev + i * g", "c = sigmoid(f * c_prev + i * g)")],
                     WRONG_STEP, "c = sigmoid(f*c_prev + i*g)"),
    "missing_tanh": ("answer_step_forward", [("h = o * tanh_c", "h = o * c")],
                     WRONG_STEP, "h = o * c, without the tanh"),
    "candidate_sigmoid": ("answer_step_forward", [("g = np.tanh(a[:, 2 * H:3 * H])", "g = sigmoid(a[:, 2 * H:3 * H])")],
                          WRONG_STEP, "candidate g goes through a sigmoid"),
    "output_reads_old_cell": ("answer_step_forward", [("tanh_c = np.tanh(c)", "tanh_c = np.tanh(c_prev)")],
                              WRONG_STEP, "h = o * tanh(c_prev)"),
    "upstream_dc_ignored": ("answer_step_backward",
                            [("dc_total = dc + dh * o", "dc_total = dh * o")],
                            WRONG_STEP_BACKWARD, "without the upstream dc"),
    "c0_ignored": ("answer_forward", [("c = np.zeros_like(h0) if c0 is None else c0", "c = np.zeros_like(h0)")],
                   FORWARD - {"test_forward_without_c0"} | BACKWARD_VALUES, "started from c0 = 0"),
    "weight_grads_not_summed": ("answer_backward",
                                [("dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
                                  "dWx, dWh, db = dWx_t, dWh_t, db_t")],
                                {"test_backward_values", "test_backward_edge_sizes"},
                                "the gradient of step t=0 alone"),
    "dh0_missing": ("answer_backward", [("return np.stack(dxs, axis=1), dh_next,",
                                         "return np.stack(dxs, axis=1), np.zeros_like(dh_next),")],
                    {"test_backward_values", "test_backward_edge_sizes"}, "`dh0` matches zeros everywhere"),
    "dWh_transposed": ("answer_step_backward", [("h_prev.T @ da", "da.T @ h_prev")],
                       WRONG_STEP_BACKWARD, "are the axes swapped?"),
    "dc0_missing": ("answer_backward", [("dWh, db, dc_next", "dWh, db")],
                    BACKWARD_VALUES, "should return a tuple of 6 items"),
    "dhs_written": ("answer_backward",
                    [(f"= {STEP_CALL}", f"= lstm_step_backward(dhs[:, t], dc_next, cache[t])"),
                     ("    for t in reversed(range(T)):\n",
                      "    for t in reversed(range(T)):\n        dhs[:, t] += dh_next  # writes into the caller's dhs\n")],
                    {"test_backward_inputs_unchanged"}, "modified its input `dhs`"),
    "calls_rnn_ref": ("answer_forward",
                      [("    h = h0\n", "    from rnn_ref.lstm import lstm_forward as reference\n"
                                        "    return reference(x, h0, Wx, Wh, b, c0)\n")],
                      FORWARD | BACKWARD | {"test_forward_inputs_unchanged"}, "asks for your own implementation"),
    # New: slips inside the step backward, one gate or one path at a time.
    "forget_gate_sign": ("answer_step_backward", [("dc_total * c_prev * f * (1 - f)", "-dc_total * c_prev * f * (1 - f)")],
                         WRONG_STEP_BACKWARD, "opposite sign for the forget gate f"),
    "input_gate_tanh_prime": ("answer_step_backward", [("dc_total * g * i * (1 - i)", "dc_total * g * (1 - i ** 2)")],
                              WRONG_STEP_BACKWARD, "tanh's derivative 1 - i**2 for the input gate"),
    "candidate_sigmoid_prime": ("answer_step_backward", [("dc_total * i * (1 - g ** 2)", "dc_total * i * g * (1 - g)")],
                                WRONG_STEP_BACKWARD, "sigmoid's derivative g * (1 - g) for the candidate"),
    "dc_prev_without_f": ("answer_step_backward", [("dc_total * f, x.T", "dc_total, x.T")],
                          WRONG_STEP_BACKWARD, "dc_prev without the forget gate"),
    "dc_prev_without_dh": ("answer_step_backward", [("dc_total * f, x.T", "dc * f, x.T")],
                           WRONG_STEP_BACKWARD, "without the part of dh"),
    "cell_gradient_without_tanh_prime": ("answer_step_backward",
                                         [("dc_total = dc + dh * o * (1 - tanh_c ** 2)", "dc_total = dc + dh * o")],
                                         WRONG_STEP_BACKWARD, "without tanh's derivative"),
    "dWh_from_h": ("answer_step_backward", [("h_prev.T @ da", "(o * tanh_c).T @ da")],
                   WRONG_STEP_BACKWARD, "with the step's output h"),
    # New: slips of the BPTT loop.
    "loop_forward_in_time": ("answer_backward", [("reversed(range(T))", "range(T)")],
                             BACKWARD_VALUES, "loop running forward in time"),
    "cache_of_previous_step": ("answer_backward", [("cache[t])", "cache[t - 1])")],
                               BACKWARD_VALUES, "reading the cache of step t - 1"),
    "dh_next_starts_at_last_dhs": ("answer_backward", [("dh_next = np.zeros((N, H))", "dh_next = dhs[:, -1].copy()")],
                                   BACKWARD_VALUES, "counted twice"),
    "cell_gradient_not_carried": ("answer_backward", [("dh_next, dc_next, cache[t])", "dh_next, np.zeros((N, H)), cache[t])")],
                                  BACKWARD_VALUES, "does not pass dc_prev from step t+1 back"),
    # New: the step forward updates c_prev in place (right values, but the caller's c_prev changes).
    "cell_updated_in_place": ("answer_step_forward", [("c = f * c_prev + i * g", "c = c_prev\n    c *= f\n    c += i * g")],
                              STEP_FORWARD | STEP_BACKWARD | BACKWARD_VALUES | {"test_forward_inputs_unchanged"},
                              "modified its input `c_prev`"),
    "h0_ignored": ("answer_forward", [("    h = h0\n", "    h = np.zeros_like(h0)\n")],
                   FORWARD | BACKWARD_VALUES, "started from h0 = 0"),
}


class TestA4Lstm(AssignmentTests):
    assignment, mutants, seed, nested = A, MUTANTS, 4321, {"solution"}
    graded_mutants = {name: (name,) for name in ("gates_ifog", "weight_grads_not_summed", "calls_rnn_ref",
                                                 "forget_gate_sign")}
