"""a6_birnn: every mistake of the list scored in process, and a few graded for real.

Each mutant's expected failing tests and feedback phrase are checked in process
(tests/notebook_cells.py, milliseconds each). The solution, the blank copy and the mutants in
GRADED go through the real grader in one ``grade`` run (one kernel per notebook).
"""

import warnings

import nbformat
import pytest

import notebook_cells
from grading import failed_tests, feedback_text, grade_all, mutant, points, solved, student_copy

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

GRADED = ("backward_starts_at_padded_end", "calls_rnn_ref_birnn")


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_in_process_fails_exactly_its_tests_with_a_message_naming_the_mistake(name):
    cell, replacements, failing, phrase = MUTANTS[name]
    scores = notebook_cells.score(A, notebook_cells.edited_answers(A, cell, *replacements))
    assert notebook_cells.failed(scores) == failing
    assert any(phrase in message for _, message in scores.values())


def test_solution_in_process_passes_every_test():
    scores = notebook_cells.score(A, notebook_cells.edited_answers(A))
    assert notebook_cells.failed(scores) == set() and set(scores) == set(points(A))


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """The solution, the blank copy and the GRADED mutants graded in one run."""
    notebooks = {"solution": solved(A), "blank": nbformat.read(str(student_copy(A)), as_version=4),
                 **{name: mutant(A, MUTANTS[name][0], *MUTANTS[name][1]) for name in GRADED}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return grade_all(A, notebooks, tmp_path_factory.mktemp("a6"), nested={"solution"}, seed=6)


def test_solution_gets_full_marks(graded):
    result = graded[0]["solution"]
    assert result.reason == ""
    assert result.total == result.max_total == sum(points(A).values())


def test_blank_student_copy_scores_zero(graded):
    result = graded[0]["blank"]
    assert result.reason == "" and result.total == 0


@pytest.mark.parametrize("name", GRADED)
def test_graded_mutant_loses_exactly_its_tests_and_feedback_names_the_mistake(graded, name):
    results, out = graded
    _, _, failing, phrase = MUTANTS[name]
    assert failed_tests(results[name]) == failing
    assert results[name].total == sum(points(A).values()) - sum(points(A)[t] for t in failing)
    assert phrase in feedback_text(out, name)


def test_feedback_shows_no_hidden_test(graded):
    results, out = graded
    for student in results:
        text = feedback_text(out, student)
        assert "HIDDEN TESTS" not in text and "check.backward_edge_sizes" not in text
