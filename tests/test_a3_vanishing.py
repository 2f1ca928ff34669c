"""a3_vanishing: the usual mistakes scored in process, and all of them graded for real.

The shared tests are those of ``grading.AssignmentTests``. Mutants that edit different answers
and fail disjoint tests share a notebook (fewer kernels).
"""

from grading import AssignmentTests

A = "a3_vanishing"
JACOBIAN = "return (1 - hs * hs)[..., :, None] * Wh.T"
SCALE = "scale = min(1.0, max_norm / (total_norm + 1e-6))"
JACOBIAN_TESTS = {"test_jacobians_values", "test_jacobians_single_unit"}
PRODUCT_TESTS = {"test_product_values", "test_product_identity", "test_product_whole_sequence"}
NORMS_TESTS = {"test_norms_values", "test_norms_single_step"}
CLIP_VALUE_TESTS = {"test_clip_above", "test_clip_below", "test_clip_single_gradient"}

# name: (answer cell, replacements, tests that must fail, phrase the feedback must contain)
MUTANTS = {
    "jacobian_not_transposed": ("answer_jacobians", [(JACOBIAN, JACOBIAN[:-2])],
                                {"test_jacobians_values"}, "without the transpose"),
    "jacobian_without_derivative": ("answer_jacobians",
                                    [(JACOBIAN, "return np.ones_like(hs)[..., :, None] * Wh.T")],
                                    {"test_jacobians_values", "test_jacobians_single_unit"},
                                    "without the tanh derivative"),
    "jacobian_from_rnn_ref": ("answer_jacobians",
                              [(JACOBIAN, "from rnn_ref.analysis import elman_step_jacobians\n"
                                          "    return elman_step_jacobians(hs, Wh)")],
                              {"test_jacobians_shape", "test_jacobians_values",
                               "test_jacobians_single_unit"}, "asks for your own implementation"),
    "product_reversed": ("answer_product", [("range(t, k, -1)", "range(k + 1, t + 1)")],
                         {"test_product_values", "test_product_whole_sequence"}, "opposite order"),
    "frobenius_norms": ("answer_norms", [("ord=2", "ord='fro'")],
                        {"test_norms_values", "test_norms_single_step"}, "Frobenius norms"),
    "clip_each_array": ("answer_clip",
                        [("{name: g * scale for", "{name: g * min(1.0, max_norm / np.linalg.norm(g)) for")],
                        {"test_clip_above"}, "clipped to max_norm on its own"),
    "clip_in_place": ("answer_clip",
                      [("return {name: g * scale for name, g in grads.items()}, total_norm",
                        "for g in grads.values():\n        g *= scale\n    return dict(grads), total_norm")],
                      {"test_clip_inputs_unchanged", "test_clip_below"}, "modified its input `grads`"),
    "clip_always": ("answer_clip", [(SCALE, "scale = max_norm / (total_norm + 1e-6)")],
                    {"test_clip_below"}, "even when the global norm is below it"),
    # --- written from what students get wrong (issue #16): loop slips, properties, stability
    "jacobian_previous_state": ("answer_jacobians",
                                [(JACOBIAN, "prev = np.concatenate([np.zeros_like(hs[:, :1]), hs[:, :-1]], axis=1)\n"
                                            "    return (1 - prev * prev)[..., :, None] * Wh.T")],
                                JACOBIAN_TESTS, "off-by-one in time"),
    "jacobian_tanh_twice": ("answer_jacobians", [(JACOBIAN, "return (1 - np.tanh(hs) ** 2)[..., :, None] * Wh.T")],
                            JACOBIAN_TESTS, "no second tanh"),
    "jacobian_one_minus_h": ("answer_jacobians", [(JACOBIAN, "return (1 - hs)[..., :, None] * Wh.T")],
                             JACOBIAN_TESTS, "1 - h_t instead of 1 - h_t**2"),
    "jacobian_scales_columns": ("answer_jacobians", [(JACOBIAN, "return Wh.T * (1 - hs * hs)[..., None, :]")],
                                {"test_jacobians_values"}, "scales the columns"),
    "product_one_factor_too_many": ("answer_product", [("range(t, k, -1)", "range(t, k - 1, -1)")],
                                    PRODUCT_TESTS, "one factor too many"),
    "product_one_factor_too_few": ("answer_product", [("range(t, k, -1)", "range(t, k + 1, -1)")],
                                   {"test_product_values", "test_product_whole_sequence"}, "one factor too few"),
    "product_factor_one_step_late": ("answer_product", [("J[:, s - 1]", "J[:, s]")],
                                     {"test_product_values", "test_product_whole_sequence"}, "one step late"),
    "product_elementwise": ("answer_product", [("product = product @ J[:, s - 1]", "product = product * J[:, s - 1]")],
                            {"test_product_values", "test_product_whole_sequence"}, "elementwise product"),
    "product_starts_from_zeros": ("answer_product", [("np.broadcast_to(np.eye(H), (N, H, H)).copy()", "np.zeros((N, H, H))")],
                                  PRODUCT_TESTS, "not np.zeros"),
    "norms_opposite_order": ("answer_norms", [("product = product @ J[:, T - d]", "product = J[:, T - d] @ product")],
                             {"test_norms_values"}, "opposite order"),
    "norms_index_off_by_one": ("answer_norms", [("J[:, T - d]", "J[:, T - d - 1]")],
                               {"test_norms_values"}, "off-by-one in the step index"),  # T = 1: J[:, -1] is J[:, 0]
    "norms_from_first_step": ("answer_norms", [("J[:, T - d]", "J[:, d - 1]")],
                              {"test_norms_values"}, "from the first step"),
    "norms_without_identity": ("answer_norms", [("norms = [np.linalg.norm(product, ord=2, axis=(1, 2))]", "norms = []")],
                               NORMS_TESTS, "without the identity at d = 0"),
    "clip_returns_callers_dict": ("answer_clip",
                                  [("    return {name: g * scale", "    if total_norm <= max_norm:\n"
                                                                  "        return grads, total_norm\n"
                                                                  "    return {name: g * scale")],
                                  {"test_clip_below"}, "is its input `grads` itself"),
    "clip_keeps_arrays_below": ("answer_clip", [("{name: g * scale for", "{name: (g * scale if scale < 1 else g) for")],
                                {"test_clip_below"}, "its input `grads['W0']`"),
    "clip_norm_without_sqrt": ("answer_clip", [("float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))",
                                                "float(sum(np.sum(g * g) for g in grads.values()))")],
                               CLIP_VALUE_TESTS, "without the square root"),
    "clip_sum_of_norms": ("answer_clip", [("float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))",
                                           "float(sum(np.linalg.norm(g) for g in grads.values()))")],
                          {"test_clip_above", "test_clip_below"}, "sum of the gradients' own norms"),
    "clip_divides_by_zero": ("answer_clip", [(SCALE, "scale = min(1.0, max_norm / total_norm)")],
                             {"test_clip_below"}, "divided by zero"),
    "clip_max_instead_of_min": ("answer_clip", [(SCALE, "scale = max(1.0, max_norm / (total_norm + 1e-6))")],
                                CLIP_VALUE_TESTS, "not clipped although"),
    "factor_misread": ("answer_plot",
                       [("answer_factor_05 = (data[0.5][25] / data[0.5][10]) ** (1 / 15)",
                         "answer_factor_05 = 0.8")],
                       {"test_answer_factor_05"}, "Read two distances"),
}


class TestA3Vanishing(AssignmentTests):
    assignment, mutants = A, MUTANTS
    graded_mutants = {"group1": ("jacobian_not_transposed", "product_reversed", "frobenius_norms",
                                 "clip_each_array", "factor_misread"),
                      "group2": ("jacobian_without_derivative", "clip_in_place"),
                      "group3": ("jacobian_from_rnn_ref", "clip_always")}

    def test_two_mistakes_with_the_same_numbers_are_both_named(self):
        """t == k: one factor too many gives J_t, which is also the answer 'J_t where the product
        is empty'; the message names both, none as certain (in process, the hidden test)."""
        import notebook_cells

        cell, replacements = MUTANTS["product_one_factor_too_many"][:2]
        scores = notebook_cells.score(A, notebook_cells.edited_answers(A, cell, *replacements))
        message = scores["test_product_identity"][1]
        assert "matches 2 usual mistakes equally" in message and "cannot tell which" in message
        assert "(1) a product with one factor too many" in message and "(2) J_t where t == k" in message
