"""a2_bptt: the usual BPTT mistakes scored in process, and all of them graded for real.

The shared tests are those of ``grading.AssignmentTests``. Mutants that edit different answers
and fail disjoint tests share a notebook (fewer kernels); each is still judged on its own tests
and its own message in the feedback.
"""

from grading import AssignmentTests

A = "a2_bptt"
STEP = {"test_step_backward_values", "test_step_backward_single_unit"}
SEQ = {"test_backward_values", "test_backward_single_step"}
TRUNC_CALL = "full_bptt(params, x[:, start:start + k], y[:, start:start + k], h)"

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "no_tanh_derivative": ("answer_step_backward", [("da = dh * (1 - h * h)", "da = dh")],
                           STEP, "without the tanh derivative"),
    "dh_written_in_place": ("answer_step_backward",
                            [("da = dh * (1 - h * h)", "dh *= 1 - h * h\n    da = dh")],
                            {"test_step_backward_dh_unchanged"}, "modified its input `dh`"),
    "not_summed_over_time": ("answer_backward",
                             [("dWx += dWx_t\n        dWh += dWh_t\n        db += db_t",
                               "dWx, dWh, db = dWx_t, dWh_t, db_t")],
                             {"test_backward_values"}, "the gradient of step t=0 alone"),
    "dh0_missing": ("answer_backward", [("return dx, dh_next,", "return dx, np.zeros_like(h0),")],
                    SEQ, "`dh0` matches zeros everywhere"),
    "dhs_written_in_place": ("answer_backward",
                             [("elman_step_backward(dhs[:, t] + dh_next, step_cache)",
                               "elman_step_backward(dhs[:, t], step_cache)"),
                              ("step_cache = (", "dhs[:, t] += dh_next\n        step_cache = (")],
                             {"test_backward_dhs_unchanged"}, "modified its input `dhs`"),
    "one_sided_differences": ("answer_numerical_gradient",
                              [("x[i] = old - h\n        minus = f(x)", "x[i] = old\n        minus = f(x)"),
                               ("(plus - minus) / (2 * h)", "(plus - minus) / h")],
                              {"test_numgrad_values", "test_numgrad_matrix"}, "one-sided differences"),
    "perturbs_x_in_place": ("answer_numerical_gradient",
                            [("x = np.array(x, dtype=float)  # private copy", "# works on the caller's x"),
                             ("\n        x[i] = old\n", "\n")],
                            {"test_numgrad_values", "test_numgrad_x_unchanged", "test_numgrad_matrix"},
                            "modified its input `x`"),
    "gradients_not_cut": ("answer_truncated", [("range(0, T, k)", "range(0, T, T)"),
                                               ("start + k]", "start + T]")],
                          {"test_truncated_grads", "test_truncated_extreme_windows"},
                          "not cut at the chunk borders"),
    "state_not_carried": ("answer_truncated", [(TRUNC_CALL, TRUNC_CALL[:-2] + "h0)")],
                          {"test_truncated_grads", "test_truncated_loss_and_state",
                           "test_truncated_extreme_windows"}, "start again from h0"),
    "calls_rnn_ref": ("answer_truncated",
                      [("T = x.shape[1]", "from rnn_ref.bptt import truncated_bptt as reference\n"
                                          "    return reference(params, x, y, h0, k)")],
                      {"test_truncated_grads", "test_truncated_loss_and_state",
                       "test_truncated_extreme_windows"}, "asks for your own implementation"),
    # New: what students get wrong in a step backward (the sequence's tests then credit a BPTT that
    # is right given the wrong step backward: follow-through).
    "dWh_from_h": ("answer_step_backward", [("h_prev.T @ da", "h.T @ da")],
                   STEP, "dWh = h.T @ da, with the step's output h"),
    "sign_flipped": ("answer_step_backward", [("da = dh * (1 - h * h)", "da = -dh * (1 - h * h)")],
                     STEP, "with the opposite sign"),
    "derivative_squared_wrongly": ("answer_step_backward", [("da = dh * (1 - h * h)", "da = dh * (1 - h) ** 2")],
                                   STEP, "the derivative (1 - h)**2"),
    "wx_not_transposed": ("answer_step_backward", [("return da @ Wx.T", "return da @ Wx")],
                          {"test_step_backward_shapes", "test_step_backward_values", "test_backward_shapes"},
                          "Wx not transposed (dx = da @ Wx)"),
    "db_summed_over_units": ("answer_step_backward", [("da.sum(axis=0)", "da.sum(axis=1)")],
                             {"test_step_backward_shapes", "test_step_backward_values", "test_backward_shapes",
                              "test_backward_values", "test_backward_dhs_unchanged", "test_backward_single_step"},
                             "A bias gradient sums da over the batch rows (axis 0)"),
    # New: slips of the BPTT loop.
    "loop_forward_in_time": ("answer_backward", [("reversed(range(T))", "range(T)")],
                             {"test_backward_values"}, "loop running forward in time"),
    "h_prev_negative_index": ("answer_backward", [("h_prev = hs[:, t - 1] if t > 0 else h0", "h_prev = hs[:, t - 1]")],
                              SEQ, "Python's negative index"),
    "loop_skips_step_0": ("answer_backward", [("reversed(range(T))", "reversed(range(1, T))")],
                          SEQ, "stops before t = 0"),
    "dh0_before_step_0": ("answer_backward",
                          [("elman_step_backward(dhs[:, t] + dh_next, step_cache)",
                            "elman_step_backward(dh_in := dhs[:, t] + dh_next, step_cache)"),
                           ("return dx, dh_next,", "return dx, dh_in,")],
                          SEQ, "instead of what comes out of it"),
    "dh_next_starts_at_last_dhs": ("answer_backward", [("dh_next = np.zeros_like(h0)", "dh_next = dhs[:, -1].copy()")],
                                   SEQ, "counted twice"),
    # New: slips of truncated BPTT.
    "last_short_chunk_dropped": ("answer_truncated", [("range(0, T, k)", "range(0, T - k + 1, k)")],
                                 {"test_truncated_grads", "test_truncated_loss_and_state",
                                  "test_truncated_extreme_windows"}, "drops the last, shorter chunk"),
    "chunks_one_step_short": ("answer_truncated", [("start + k]", "start + k - 1]")],
                              {"test_truncated_grads", "test_truncated_loss_and_state",
                               "test_truncated_extreme_windows"}, "chunks of k - 1 steps"),
    "chunks_overlap": ("answer_truncated", [("start + k]", "start + k + 1]")],
                       {"test_truncated_grads", "test_truncated_loss_and_state",
                        "test_truncated_extreme_windows"}, "overlap by one step"),
    "grads_start_from_params": ("answer_truncated",
                                [("{name: np.zeros_like(p) for name, p in params.items()}",
                                  "{name: p for name, p in params.items()}")],
                                {"test_truncated_grads", "test_truncated_loss_and_state",
                                 "test_truncated_extreme_windows"}, "modified its input `params`"),
}


class TestA2Bptt(AssignmentTests):
    assignment, mutants = A, MUTANTS
    # Notebooks: each carries mutants of different answers with disjoint failing tests.
    graded_mutants = {"group1": ("no_tanh_derivative", "one_sided_differences", "gradients_not_cut"),
                      "group2": ("dh_written_in_place", "dh0_missing", "perturbs_x_in_place", "state_not_carried"),
                      "group3": ("not_summed_over_time", "calls_rnn_ref"),
                      "group4": ("dhs_written_in_place", "last_short_chunk_dropped", "dWh_from_h")}
