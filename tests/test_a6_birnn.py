"""a6_birnn: every mistake of the list scored in process, and a few graded for real.

The shared tests are those of ``grading.AssignmentTests``: each mutant's failing tests and
feedback phrase checked in process, then the solution, the blank copy and the graded mutants
(one notebook each) through the real grader in one ``grade`` run.
"""

from grading import AssignmentTests, feedback_text

A = "a6_birnn"
REVERSE = {"test_reverse_values", "test_reverse_edge_sizes"}
FORWARD = {"test_forward_values", "test_forward_without_padding", "test_forward_edge_sizes"}
BACKWARD = {"test_backward_values", "test_backward_inputs_unchanged", "test_backward_edge_sizes"}
PADDED = {"test_forward_values", "test_forward_edge_sizes"} | BACKWARD  # tests with padding in them
CONCAT = "out = np.concatenate([h_fwd, h_bwd], axis=2) * mask"
DX = "dx = dx_fwd + reverse_within_lengths(dx_bwd_reversed, lengths)"
REV = "out[n, :length] = a[n, :length][::-1]"
PADDED_FORWARD = {"test_forward_values", "test_forward_edge_sizes"}
BACKWARD_VALUES = {"test_backward_values", "test_backward_edge_sizes"}

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "reverse_ignores_lengths": ("answer_reverse", [("out[n, :length] = a[n, :length][::-1]", "out[n] = a[n, ::-1]")],
                                REVERSE | {"test_forward_values"}, "reverse only its real steps"),  # follow-through
    "backward_not_re_reversed": ("answer_forward", [("h_bwd = reverse_within_lengths(h_bwd_reversed, lengths)",
                                                     "h_bwd = h_bwd_reversed")],
                                 FORWARD, "the backward direction left in reversed order"),  # backward: right for itself
    "backward_starts_at_padded_end": ("answer_forward",
                                      [("reverse_within_lengths(x, lengths)", "x[:, ::-1]"),
                                       ("reverse_within_lengths(h_bwd_reversed, lengths)", "h_bwd_reversed[:, ::-1]")],
                                      PADDED_FORWARD | BACKWARD_VALUES, "starts at the padded end (lengths ignored)"),
    "halves_swapped": ("answer_forward", [(CONCAT, CONCAT.replace("h_fwd, h_bwd", "h_bwd, h_fwd"))],
                       FORWARD, "the halves in the other order"),
    "padding_not_zeroed": ("answer_forward", [(CONCAT, CONCAT.replace(" * mask", ""))],
                           PADDED_FORWARD, "not zero at padded steps"),
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
    # --- written from what students get wrong (issue #16): one padded step, lengths, follow-through
    "reverse_one_padded_step": ("answer_reverse", [(REV, "out[n, :length + 1] = a[n, :length + 1][::-1]")],
                                REVERSE | {"test_forward_values"}, "one padded step"),
    "reverse_keeps_last_real_step": ("answer_reverse", [(REV, "out[n, :length - 1] = a[n, :length - 1][::-1]")],
                                     REVERSE | {"test_forward_values", "test_forward_without_padding"},
                                     "last real step is left in place"),
    "reverse_view_without_padding": ("answer_reverse",
                                     [("    out = a.copy()\n", "    if all(length == a.shape[1] for length in lengths):\n"
                                                              "        return a[:, ::-1]\n    out = a.copy()\n")],
                                     REVERSE | PADDED_FORWARD | BACKWARD_VALUES,  # torch refuses the view
                                     "a view sharing its memory"),
    "reverse_without_copy": ("answer_reverse", [("out = a.copy()", "out = a")],
                             REVERSE | {"test_forward_inputs_unchanged"}, "modified its input `a`"),
    "mask_keeps_one_padded_step": ("answer_forward", [("np.arange(T)[None, :] < np.asarray", "np.arange(T)[None, :] <= np.asarray")],
                                   PADDED_FORWARD, "keeps one padded step"),
    "mask_zeroes_last_real_step": ("answer_forward", [("np.asarray(lengths)[:, None])", "np.asarray(lengths)[:, None] - 1)")],
                                   FORWARD, "zeroes the last real step"),
    "both_directions_params_fwd": ("answer_forward", [("**params_bwd)", "**params_fwd)")],
                                   FORWARD | BACKWARD_VALUES, "both directions run with params_fwd"),
    "backward_direction_reads_x_in_order": ("answer_forward", [("elman_forward(reverse_within_lengths(x, lengths), **params_bwd)",
                                                                "elman_forward(x, **params_bwd)")],
                                            FORWARD | BACKWARD_VALUES, "original order"),
    "backward_grads_swapped": ("answer_backward", [("return dx, dict(zip(names, grads_fwd)), dict(zip(names, grads_bwd))",
                                                    "return dx, dict(zip(names, grads_bwd)), dict(zip(names, grads_fwd))")],
                               {"test_backward_values", "test_backward_edge_sizes"}, "swapped"),
    "backward_same_half_of_dout": ("answer_backward", [("reverse_within_lengths(dout[:, :, H:], lengths)",
                                                        "reverse_within_lengths(dout[:, :, :H], lengths)")],
                                   {"test_backward_values", "test_backward_edge_sizes"}, "forward half of dout"),
    "backward_reverses_all_steps": ("answer_backward", [("reverse_within_lengths(dout[:, :, H:], lengths)", "dout[:, ::-1, H:]"),
                                                        (DX, "dx = dx_fwd + dx_bwd_reversed[:, ::-1]")],
                                    {"test_backward_values", "test_backward_edge_sizes"}, "reverses over all T steps"),
    "calls_rnn_ref_birnn": ("answer_forward",
                            [("    T = x.shape[1]\n", "    from rnn_ref.birnn import birnn_forward as reference\n"
                                                   "    return reference(x, params_fwd, params_bwd, lengths=lengths)\n")],
                            FORWARD | BACKWARD | {"test_forward_inputs_unchanged"}, "own wrapper"),
}


class TestA6Birnn(AssignmentTests):
    assignment, mutants, seed, nested = A, MUTANTS, 6, {"solution"}
    graded_mutants = {name: (name,) for name in ("backward_starts_at_padded_end", "calls_rnn_ref_birnn",
                                                 "mask_keeps_one_padded_step")}

    def test_a_backward_right_for_a_wrong_forward_keeps_its_points_and_says_why(self, graded):
        """The forward's mask keeps one padded step; the backward, the exact derivative of that
        forward (finite differences of the student's own forward), keeps its points."""
        results, out = graded
        result = results["mask_keeps_one_padded_step"]
        for test in ("test_backward_values", "test_backward_edge_sizes", "test_backward_inputs_unchanged"):
            assert result.scores[test] == result.max_scores[test], test
        assert "Right given your `birnn_forward`: `dx` is not the reference answer" in feedback_text(
            out, "mask_keeps_one_padded_step")
