"""a5_gru: every mistake of the list scored in process, and a few graded for real.

The shared tests are those of ``grading.AssignmentTests``: each mutant's failing tests and
feedback phrase checked in process, then the solution, the blank copy and one notebook carrying
two mutants (different answer cells, disjoint failing tests) through the real grader in one
``grade`` run.
"""

from grading import AssignmentTests

A = "a5_gru"
STEP_FORWARD = {"test_step_forward_values", "test_step_forward_edge_sizes"}
STEP_BACKWARD = {"test_step_backward_values", "test_step_backward_edge_sizes"}
FORWARD = {"test_forward_values", "test_forward_edge_sizes"}
BACKWARD = {"test_backward_values", "test_backward_inputs_unchanged", "test_backward_edge_sizes"}
TORCH = {"test_to_torch_values", "test_to_torch_edge_sizes"}
NUMPY_GRU = STEP_FORWARD | STEP_BACKWARD | FORWARD | BACKWARD  # all that runs the step forward
# A wrong step forward costs its own tests and the step backward's (which is not the derivative of
# that forward); the sequence tests credit work right given it (follow-through).
WRONG_STEP = STEP_FORWARD | STEP_BACKWARD
# A wrong step backward costs its own tests only: BPTT right given it gets its points.
WRONG_STEP_BACKWARD = STEP_BACKWARD
BACKWARD_VALUES = {"test_backward_values", "test_backward_edge_sizes"}

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "z_on_the_other_side": ("answer_step_forward", [("h = (1 - z) * n + z * h_prev", "h = (1 - z) * h_prev + z * n")],
                            WRONG_STEP, "z on the other side, h = (1-z)*h_prev + z*n"),
    "reset_before_product": ("answer_step_forward",
                             [("n = np.tanh(ax[:, 2 * H:] + r * hn)",
                               "n = np.tanh(ax[:, 2 * H:] + (r * h_prev) @ Wh[:, 2 * H:] + bh[2 * H:])")],
                             WRONG_STEP, "resets before the product"),
    "gates_zrn": ("answer_step_forward",
                  [("r = sigmoid(ax[:, :H] + ah[:, :H])\n    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
                    "z = sigmoid(ax[:, :H] + ah[:, :H])\n    r = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])")],
                  WRONG_STEP, "gates are ordered z,r,n; this course (like torch) uses r,z,n"),
    "bias_outside_reset": ("answer_step_forward",
                           [("ah = h_prev @ Wh + bh", "ah = h_prev @ Wh"),
                            ("r = sigmoid(ax[:, :H] + ah[:, :H])", "r = sigmoid(ax[:, :H] + ah[:, :H] + bh[:H])"),
                            ("z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
                             "z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H] + bh[H:2 * H])"),
                            ("n = np.tanh(ax[:, 2 * H:] + r * hn)", "n = np.tanh(ax[:, 2 * H:] + r * hn + bh[2 * H:])")],
                           WRONG_STEP, "bhn outside the reset"),
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
    # New: slips inside the step backward, one gate or one path at a time.
    "update_gate_sign": ("answer_step_backward", [("daz = dh * (h_prev - n)", "daz = dh * (n - h_prev)")],
                         WRONG_STEP_BACKWARD, "opposite sign for the update gate z"),
    "reset_gate_tanh_prime": ("answer_step_backward", [("dar = dan * hn * r * (1 - r)", "dar = dan * hn * (1 - r ** 2)")],
                              WRONG_STEP_BACKWARD, "tanh's derivative 1 - r**2 for the reset gate"),
    "candidate_sigmoid_prime": ("answer_step_backward",
                                [("dan = dh * (1 - z) * (1 - n ** 2)", "dan = dh * (1 - z) * n * (1 - n)")],
                                WRONG_STEP_BACKWARD, "sigmoid's derivative n * (1 - n) for the candidate"),
    "hidden_n_without_reset": ("answer_step_backward", [("dan * r], axis=1)", "dan], axis=1)")],
                               WRONG_STEP_BACKWARD, "without the reset gate"),
    "no_direct_path": ("answer_step_backward", [("dh_prev = dh * z + dah @ Wh.T", "dh_prev = dah @ Wh.T")],
                       WRONG_STEP_BACKWARD, "without the direct path dh * z"),
    "z_other_side_in_backward": ("answer_step_backward",
                                 [("dan = dh * (1 - z)", "dan = dh * z"), ("daz = dh * (h_prev - n)", "daz = dh * (n - h_prev)"),
                                  ("dh_prev = dh * z", "dh_prev = dh * (1 - z)")],
                                 WRONG_STEP_BACKWARD, "backward of a GRU with z on the other side"),
    "reset_multiplies_hn_without_bias": ("answer_step_backward",
                                         [("dar = dan * hn * r * (1 - r)",
                                           "dar = dan * (h_prev @ Wh[:, -hn.shape[1]:]) * r * (1 - r)")],
                                         WRONG_STEP_BACKWARD, "without bhn"),
    "dWh_from_h": ("answer_step_backward", [("h_prev.T @ dah", "((1 - z) * n + z * h_prev).T @ dah")],
                   WRONG_STEP_BACKWARD, "with the step's output h"),
    # New: slips of the BPTT loop.
    "loop_forward_in_time": ("answer_backward", [("reversed(range(T))", "range(T)")],
                             BACKWARD_VALUES, "loop running forward in time"),
    "cache_of_previous_step": ("answer_backward", [("cache[t])", "cache[t - 1])")],
                               BACKWARD_VALUES, "reading the cache of step t - 1"),
    "dh_next_starts_at_last_dhs": ("answer_backward", [("dh_next = np.zeros((N, H))", "dh_next = dhs[:, -1].copy()")],
                                   BACKWARD_VALUES, "counted twice"),
    # New: the step forward updates h_prev in place (right values, but the caller's h_prev changes).
    "state_updated_in_place": ("answer_step_forward", [("h = (1 - z) * n + z * h_prev", "h = h_prev\n    h *= z\n    h += (1 - z) * n")],
                               STEP_FORWARD | STEP_BACKWARD | FORWARD | BACKWARD_VALUES | {"test_forward_inputs_unchanged"},
                               "modified its input `h_prev`"),
}


class TestA5Gru(AssignmentTests):
    assignment, mutants, seed, nested = A, MUTANTS, 5, {"solution"}
    graded_mutants = {"combined": ("z_on_the_other_side", "torch_biases_swapped")}
