"""a3_vanishing: the usual mistakes scored in process, and all of them graded for real.

The shared tests are those of ``grading.AssignmentTests``. Mutants that edit different answers
and fail disjoint tests share a notebook (fewer kernels).
"""

from grading import AssignmentTests

A = "a3_vanishing"
JACOBIAN = "return (1 - hs * hs)[..., :, None] * Wh.T"
SCALE = "scale = min(1.0, max_norm / (total_norm + 1e-6))"

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
                      {"test_clip_inputs_unchanged"}, "modified its input `grads`"),
    "clip_always": ("answer_clip", [(SCALE, "scale = max_norm / (total_norm + 1e-6)")],
                    {"test_clip_below"}, "even when the global norm is below it"),
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
