"""a6_birnn: every mistake of the list scored in process, and a few graded for real.

The shared tests are those of ``grading.AssignmentTests``: each mutant's failing tests and
feedback phrase checked in process, then the solution, the blank copy and the graded mutants
(one notebook each) through the real grader in one ``grade`` run.
"""

from grading import AssignmentTests

A = "a6_birnn"
REVERSE = {"test_reverse_values", "test_reverse_edge_sizes"}
FORWARD = {"test_forward_values", "test_forward_without_padding", "test_forward_edge_sizes"}
BACKWARD = {"test_backward_values", "test_backward_inputs_unchanged", "test_backward_edge_sizes"}
PADDED = {"test_forward_values", "test_forward_edge_sizes"} | BACKWARD  # tests with padding in them
CONCAT = "out = np.concatenate([h_fwd, h_bwd], axis=2) * mask"
DX = "dx = dx_fwd + reverse_within_lengths(dx_bwd_reversed, lengths)"

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "reverse_ignores_lengths": ("answer_reverse", [("out[n, :length] = a[n, :length][::-1]", "out[n] = a[n, ::-1]")],
                                REVERSE | PADDED, "reverse only its real steps"),
    "backward_not_re_reversed": ("answer_forward", [("h_bwd = reverse_within_lengths(h_bwd_reversed, lengths)",
                                                     "h_bwd = h_bwd_reversed")],
                                 FORWARD | BACKWARD, "the backward direction left in reversed order"),
    "backward_starts_at_padded_end": ("answer_forward",
                                      [("reverse_within_lengths(x, lengths)", "x[:, ::-1]"),
                                       ("reverse_within_lengths(h_bwd_reversed, lengths)", "h_bwd_reversed[:, ::-1]")],
                                      PADDED, "starts at the padded end (lengths ignored)"),
    "halves_swapped": ("answer_forward", [(CONCAT, CONCAT.replace("h_fwd, h_bwd", "h_bwd, h_fwd"))],
                       FORWARD | BACKWARD, "the halves in the other order"),
    "padding_not_zeroed": ("answer_forward", [(CONCAT, CONCAT.replace(" * mask", ""))],
                           PADDED, "not zero at padded steps"),
    "dx_not_re_reversed": ("answer_backward", [(DX, "dx = dx_fwd + dx_bwd_reversed")],
                           {"test_backward_values", "test_backward_edge_sizes"}, "dx left in reversed order"),
    "dout_not_reversed": ("answer_backward", [("elman_backward(reverse_within_lengths(dout[:, :, H:], lengths), cache_bwd)",
                                               "elman_backward(dout[:, :, H:], cache_bwd)")],
                          {"test_backward_values", "test_backward_edge_sizes"}, "upstream gradient in the original order"),
    "dout_not_masked": ("answer_backward", [("    dout = dout * mask\n", "")],
                        {"test_backward_values", "test_backward_edge_sizes"}, "use dout at padded steps"),
    "dx_of_one_direction": ("answer_backward", [(DX, "dx = dx_fwd")],
                            {"test_backward_values", "test_backward_edge_sizes"}, "x feeds both directions"),
    "dout_written": ("answer_backward", [("    dout = dout * mask\n", "    dout *= mask\n")],
                     {"test_backward_inputs_unchanged"}, "modified its input `dout`"),
    "calls_rnn_ref_birnn": ("answer_forward",
                            [("    T = x.shape[1]\n", "    from rnn_ref.birnn import birnn_forward as reference\n"
                                                   "    return reference(x, params_fwd, params_bwd, lengths=lengths)\n")],
                            FORWARD | BACKWARD | {"test_forward_inputs_unchanged"}, "own wrapper"),
}


class TestA6Birnn(AssignmentTests):
    assignment, mutants, seed, nested = A, MUTANTS, 6, {"solution"}
    graded_mutants = {name: (name,) for name in ("backward_starts_at_padded_end", "calls_rnn_ref_birnn")}
