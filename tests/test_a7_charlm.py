"""a7_charlm: every mistake of the list scored in process, and a few graded for real.

The shared tests are those of ``grading.AssignmentTests``. In process (tests/notebook_cells.py)
the training cell and the held-out test that needs it are skipped, so each mutant costs about a
second; the train-step and train-loop tests still compare with the reference on small models.
The solution, the blank copy and one notebook carrying two mutants go through the real grader in
one ``grade`` run, training included.
"""

from grading import AssignmentTests, failed_tests, feedback_text

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


class TestA7Charlm(AssignmentTests):
    assignment, mutants, seed, nested = A, MUTANTS, 7, {"solution"}
    skip_in_process = TRAINING
    graded_mutants = {"combined": ("targets_not_shifted", "temperature_multiplies")}
    # graded for real, training included: the model trained on unshifted targets fails held-out too
    graded_failing = {"targets_not_shifted": BATCHES | {"test_heldout_loss"}}

    def test_model_trained_on_unshifted_targets_fails_the_heldout_threshold_with_the_reason(self, graded):
        results, out = graded
        assert "test_heldout_loss" in failed_tests(results["combined"])
        assert "worse than guessing from frequencies" in feedback_text(out, "combined")
