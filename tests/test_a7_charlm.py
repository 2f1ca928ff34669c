"""a7_charlm: every mistake of the list scored in process, and a few graded for real.

In process (tests/notebook_cells.py) the training cell and the held-out test that needs it are
skipped, so each mutant costs about a second; the train-step and train-loop tests still compare
with the reference on small models. The solution, the blank copy and one notebook carrying the
COMBINED mutants go through the real grader in one ``grade`` run, training included.
"""

import warnings

import nbformat
import pytest

import notebook_cells
from grading import combined_mutant, failed_tests, feedback_text, grade_all, points, solved, student_copy

A = "a7_charlm"
TRAINING = ("train_model", "test_heldout_loss", "demo_generate")  # skipped in process
BATCHES = {"test_batches_values", "test_batches_edge_sizes"}
LOOP = {"test_train_step_values", "test_train_values"}
SAMPLER = {"test_sampler_distribution", "test_sampler_large_scores"}
SOFTMAX = "probs = torch.softmax(scores / temperature, dim=0)"

# name: (answer cell, replacements, tests that must fail (in process), phrase the feedback must contain)
MUTANTS = {
    "targets_not_shifted": ("answer_batches", [("ids[1:n * batch_size + 1]", "ids[:n * batch_size]")],
                            BATCHES, "the target at each position is the next character"),
    "streams_interleaved": ("answer_batches",
                            [("x = torch.as_tensor(ids[:n * batch_size]).reshape(batch_size, n)",
                              "x = torch.as_tensor(ids[:n * batch_size]).reshape(n, batch_size).T")],
                            BATCHES, "streams that interleave the text"),
    "partial_last_batch": ("answer_batches", [("range(n // seq_len)", "range(-(-n // seq_len))")],
                           BATCHES, "drop the incomplete rest"),
    "calls_reference_batching": ("answer_batches",
                                 [("    n = (len(ids) - 1) // batch_size\n",
                                   "    from rnn_ref.apps import charlm\n"
                                   "    x, y = charlm.stream_batches(ids, batch_size)\n"
                                   "    n = x.shape[1]\n")],
                                 BATCHES, "uses rnn_ref's own character-model code"),
    "no_clipping": ("answer_step", [("    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n", "")],
                    LOOP, "a step without gradient clipping"),
    "no_zero_grad": ("answer_step", [("    optimizer.zero_grad()\n", "")], LOOP, "never zeroes the gradients"),
    "state_not_detached": ("answer_step", [("state.detach()", "state")], LOOP, "return state.detach()"),
    "loss_summed": ("answer_step", [("targets.reshape(-1))", "targets.reshape(-1), reduction=\"sum\")")],
                    LOOP, "the per-position sum"),
    "state_not_carried": ("answer_train", [("*batches[k], state, max_norm", "*batches[k], None, max_norm")],
                          {"test_train_values"}, "starts every batch from a zero state"),
    "state_not_reset": ("answer_train", [("            state = None\n", "            pass\n")],
                        {"test_train_values"}, "keeps the state when the batches start again"),
    "temperature_multiplies": ("answer_sample", [(SOFTMAX, SOFTMAX.replace("/", "*"))], SAMPLER,
                               "the temperature multiplies the scores"),
    "temperature_ignored": ("answer_sample", [(SOFTMAX, SOFTMAX.replace(" / temperature", ""))], SAMPLER,
                            "the temperature is ignored"),
    "always_greedy": ("answer_sample", [(f"    {SOFTMAX}", f"    return int(torch.argmax(scores))\n    {SOFTMAX}")],
                      SAMPLER, "always the most likely index"),
    "zero_temperature_divides": ("answer_sample", [("    if temperature == 0:\n        return int(torch.argmax(scores))\n", "")],
                                 {"test_sampler_greedy"}, "return the argmax at temperature 0 before dividing"),
    "softmax_overflows": ("answer_sample", [(SOFTMAX, "e = torch.exp(scores.double() / temperature)\n"
                                                      "    probs = e / e.sum()")],
                          {"test_sampler_large_scores"}, "subtract the largest score first"),
}

# Graded for real in one notebook, training included: {name: tests that must fail there}
COMBINED = {"targets_not_shifted": BATCHES | {"test_heldout_loss"}, "temperature_multiplies": SAMPLER}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_in_process_fails_exactly_its_tests_with_a_message_naming_the_mistake(name):
    cell, replacements, failing, phrase = MUTANTS[name]
    scores = notebook_cells.score(A, notebook_cells.edited_answers(A, cell, *replacements), skip=TRAINING)
    assert notebook_cells.failed(scores) == failing
    assert any(phrase in message for _, message in scores.values())


def test_solution_in_process_passes_every_test_but_the_skipped_one():
    scores = notebook_cells.score(A, notebook_cells.edited_answers(A), skip=TRAINING)
    assert notebook_cells.failed(scores) == set() and set(scores) == set(points(A)) - set(TRAINING)


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """The solution, the blank copy and the COMBINED mutants graded in one run."""
    table = {name: (*MUTANTS[name][:2], failing, MUTANTS[name][3]) for name, failing in COMBINED.items()}
    notebooks = {"solution": solved(A), "blank": nbformat.read(str(student_copy(A)), as_version=4),
                 "combined": combined_mutant(A, table, list(COMBINED))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return grade_all(A, notebooks, tmp_path_factory.mktemp("a7"), nested={"solution"}, seed=7)


def test_solution_gets_full_marks_with_the_trained_model_under_the_threshold(graded):
    results, out = graded
    result = results["solution"]
    assert result.reason == ""
    assert result.total == result.max_total == sum(points(A).values())


def test_blank_student_copy_scores_zero(graded):
    result = graded[0]["blank"]
    assert result.reason == "" and result.total == 0


def test_combined_mutant_loses_exactly_its_mistakes_tests_and_feedback_names_each(graded):
    results, out = graded
    failing = set().union(*COMBINED.values())
    assert failed_tests(results["combined"]) == failing
    assert results["combined"].total == sum(points(A).values()) - sum(points(A)[t] for t in failing)
    for name in COMBINED:
        assert MUTANTS[name][3] in feedback_text(out, "combined")


def test_model_trained_on_unshifted_targets_fails_the_heldout_threshold_with_the_reason(graded):
    results, out = graded
    assert "test_heldout_loss" in failed_tests(results["combined"])
    assert "worse than guessing from frequencies" in feedback_text(out, "combined")


def test_feedback_shows_no_hidden_test(graded):
    results, out = graded
    for student in results:
        text = feedback_text(out, student)
        assert "HIDDEN TESTS" not in text and "check.sampler_large_scores" not in text
