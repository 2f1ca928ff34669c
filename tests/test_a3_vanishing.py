"""a3_vanishing graded for real: the solution, the blank copy and the usual mistakes.

Mutants that edit different answers and fail disjoint tests share a notebook (fewer kernels).
"""

import warnings

import nbformat
import pytest

from grading import (combined_mutant, failed_tests, feedback_text, grade_all, points, solved,
                     student_copy)

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
GROUPS = [("jacobian_not_transposed", "product_reversed", "frobenius_norms", "clip_each_array",
           "factor_misread"),
          ("jacobian_without_derivative", "clip_in_place"),
          ("jacobian_from_rnn_ref", "clip_always")]


def _student(group):
    return f"group{GROUPS.index(group) + 1}"


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    notebooks = {"solution": solved(A), "blank": nbformat.read(str(student_copy(A)), as_version=4)}
    notebooks.update({_student(g): combined_mutant(A, MUTANTS, g) for g in GROUPS})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return grade_all(A, notebooks, tmp_path_factory.mktemp("a3"))


def test_solution_gets_full_marks(graded):
    result = graded[0]["solution"]
    assert result.reason == "" and result.total == result.max_total == sum(points(A).values())


def test_blank_student_copy_scores_zero(graded):
    assert graded[0]["blank"].reason == "" and graded[0]["blank"].total == 0


@pytest.mark.parametrize("group", GROUPS, ids="+".join)
def test_mutants_lose_exactly_their_tests_and_feedback_names_each_mistake(graded, group):
    results, out = graded
    result = results[_student(group)]
    expected = set().union(*(MUTANTS[name][2] for name in group))
    assert failed_tests(result) == expected
    assert result.total == sum(points(A).values()) - sum(points(A)[t] for t in expected)
    text = feedback_text(out, _student(group))
    for name in group:
        assert MUTANTS[name][3] in text, name
