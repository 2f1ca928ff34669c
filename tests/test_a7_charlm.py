"""a7_charlm: every mistake of the list scored in process, and a few graded for real.

The shared tests are those of ``grading.AssignmentTests``. In process (tests/notebook_cells.py)
the training cell and the held-out test that needs it are skipped, so each mutant costs a few
seconds; the train-step and train-loop tests still compare with the reference on small models.
The solution, the blank copy and notebooks carrying several mutants go through the real grader in
one ``grade`` run, training included.

The mistakes are what students get wrong in a character model: off-by-one targets and stream
lengths, chunks that overlap, the wrong dtype, the steps of an update in the wrong order, the loss
averaged wrongly or computed unstably, the state not carried or not reset, the optimizer made
anew, the temperature applied wrongly, drawing without the generator given. A wrong train_step
costs its own test only: the loop that calls it the right way is credited (follow-through).
"""

from grading import AssignmentTests, failed_tests, feedback_text

A = "a7_charlm"
TRAINING = ("train_model", "test_heldout_loss", "demo_generate")  # skipped in process
BATCHES = {"test_batches_values", "test_batches_edge_sizes"}
STEP = {"test_train_step_values"}
LOOP = {"test_train_values"}
SAMPLER = {"test_sampler_distribution", "test_sampler_large_scores"}
REPRO = {"test_sampler_reproducible"}
SOFTMAX = "probs = torch.softmax(scores / temperature, dim=0)"
DRAW = "torch.multinomial(probs, 1, generator=generator)"
X = "x = torch.as_tensor(ids[:n * batch_size]).reshape(batch_size, n)"
Y = "y = torch.as_tensor(ids[1:n * batch_size + 1]).reshape(batch_size, n)"
LOSS = "loss = F.cross_entropy(scores.reshape(-1, scores.shape[-1]), targets.reshape(-1))"
CLIP = "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n"

# name: (answer cell, replacements, tests that must fail (in process), phrase the feedback must contain)
MUTANTS = {
    # --- make_batches
    "targets_not_shifted": ("answer_batches", [("ids[1:n * batch_size + 1]", "ids[:n * batch_size]")],
                            BATCHES, "the target at each position is the next character"),
    "streams_interleaved": ("answer_batches",
                            [(X, "x = torch.as_tensor(ids[:n * batch_size]).reshape(n, batch_size).T")],
                            BATCHES, "streams that interleave the text"),
    "partial_last_batch": ("answer_batches", [("range(n // seq_len)", "range(-(-n // seq_len))")],
                           BATCHES, "drop the incomplete rest"),
    "calls_reference_batching": ("answer_batches",
                                 [("    n = (len(ids) - 1) // batch_size\n",
                                   "    from rnn_ref.apps import charlm\n"
                                   "    x, y = charlm.stream_batches(ids, batch_size)\n"
                                   "    n = x.shape[1]\n")],
                                 BATCHES, "uses rnn_ref"),
    "chunks_overlap": ("answer_batches", [("x[:, k * seq_len:(k + 1) * seq_len], y[:, k * seq_len:(k + 1) * seq_len]",
                                           "x[:, k:k + seq_len], y[:, k:k + seq_len]")],
                       BATCHES, "chunks that overlap"),
    "inputs_targets_swapped": ("answer_batches", [(X, X.replace("x = ", "x_ = ")), (Y, Y.replace("y = ", "x = ")),
                                                  (X.replace("x = ", "x_ = "), "y = torch.as_tensor(ids[:n * batch_size])"
                                                   ".reshape(batch_size, n)")],
                               BATCHES, "inputs and targets are swapped"),
    "stream_length_without_minus_one": ("answer_batches", [("n = (len(ids) - 1) // batch_size",
                                                            "n = len(ids) // batch_size")],
                                        BATCHES, "without the - 1"),
    "float_ids": ("answer_batches", [("torch.as_tensor(ids[:n * batch_size])",
                                      "torch.tensor(ids[:n * batch_size], dtype=torch.float32)")],
                  BATCHES, "torch.int64"),
    "numpy_batches": ("answer_batches", [(X, X.replace("torch.as_tensor", "np.asarray")),
                                         (Y, Y.replace("torch.as_tensor", "np.asarray"))],
                      BATCHES, "return torch tensors"),
    "targets_two_ahead": ("answer_batches", [("ids[1:n * batch_size + 1]", "ids[2:n * batch_size + 2]")],
                          BATCHES, "targets two characters ahead"),
    "time_major_batches": ("answer_batches", [("return [(x[:, k * seq_len:(k + 1) * seq_len], y[:, k * seq_len:(k + 1) * seq_len])",
                                               "return [(x[:, k * seq_len:(k + 1) * seq_len].T, y[:, k * seq_len:(k + 1) * seq_len].T)")],
                           BATCHES, "the course is batch first"),
    # --- train_step (the loop that calls it stays right: follow-through)
    "no_clipping": ("answer_step", [(CLIP, "")], STEP, "a step without gradient clipping"),
    "no_zero_grad": ("answer_step", [("    optimizer.zero_grad()\n", "")], STEP, "never zeroes the gradients"),
    "state_not_detached": ("answer_step", [("state.detach()", "state")], STEP, "return state.detach()"),
    "loss_summed": ("answer_step", [("targets.reshape(-1))", "targets.reshape(-1), reduction=\"sum\")")],
                    STEP, "the per-position sum"),
    "loss_summed_over_time": ("answer_step", [("targets.reshape(-1))",
                                               "targets.reshape(-1), reduction=\"sum\") / inputs.shape[0]")],
                              STEP, "summed over the time steps and averaged over the streams only"),
    "clip_after_step": ("answer_step", [(CLIP, ""), ("    optimizer.step()\n", "    optimizer.step()\n" + CLIP)],
                        STEP, "clips the gradients after optimizer.step()"),
    "zero_grad_after_backward": ("answer_step", [("    optimizer.zero_grad()\n    loss.backward()\n",
                                                  "    loss.backward()\n    optimizer.zero_grad()\n")],
                                 STEP, "parameters did not change"),
    "clip_fixed_norm": ("answer_step", [("clip_grad_norm_(model.parameters(), max_norm)",
                                         "clip_grad_norm_(model.parameters(), 1.0)")], STEP, "not to `max_norm`"),
    "view_on_slices": ("answer_step", [("scores.reshape(-1, scores.shape[-1]), targets.reshape(-1)",
                                        "scores.view(-1, scores.shape[-1]), targets.view(-1)")],
                       STEP, "use .reshape(-1)"),
    "clip_grad_value": ("answer_step", [("clip_grad_norm_", "clip_grad_value_")], STEP, "clip_grad_value_"),
    "loss_against_inputs": ("answer_step", [("targets.reshape(-1))", "inputs.reshape(-1))")], STEP,
                            "a loss against the inputs"),
    "state_ignored": ("answer_step", [("model(inputs, state)", "model(inputs)")], STEP, "ignoring `state`"),
    "loss_tensor_returned": ("answer_step", [("return loss.item(),", "return loss,")], STEP,
                             "return loss.item()"),
    "returns_given_state": ("answer_step", [("scores, state = model(inputs, state)",
                                             "scores, new_state = model(inputs, state)")],
                            STEP, "is the `state` it was given"),
    "log_of_softmax": ("answer_step", [(LOSS, "probs = torch.softmax(scores.reshape(-1, scores.shape[-1]), dim=1)\n"
                                              "    loss = -torch.log(probs[torch.arange(probs.shape[0]), "
                                              "targets.reshape(-1)]).mean()")],
                       STEP, "not computed in a numerically stable way"),
    "softmax_shifted_by_global_max": ("answer_step", [(LOSS, "s = scores.reshape(-1, scores.shape[-1])\n"
                                                             "    s = s - s.max()\n"
                                                             "    logp = s - torch.log(torch.exp(s).sum(dim=1, keepdim=True))\n"
                                                             "    loss = -logp[torch.arange(s.shape[0]), targets.reshape(-1)].mean()")],
                                      STEP, "not computed in a numerically stable way"),
    # --- train
    "state_not_carried": ("answer_train", [("*batches[k], state, max_norm", "*batches[k], None, max_norm")],
                          LOOP, "from a zero state (None): carry the state"),
    "state_not_reset": ("answer_train", [("            state = None\n", "            pass\n")],
                        LOOP, "keeps the state when the batches start again"),
    "optimizer_every_step": ("answer_train", [("    for step in range(steps):\n",
                                               "    for step in range(steps):\n"
                                               "        optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n")],
                             LOOP, "a new one at every step"),
    "sgd_optimizer": ("answer_train", [("torch.optim.Adam(", "torch.optim.SGD(")], LOOP,
                      "the task asks for torch.optim.Adam"),
    "default_learning_rate": ("answer_train", [("torch.optim.Adam(model.parameters(), lr=lr)",
                                                "torch.optim.Adam(model.parameters())")], LOOP, "pass lr="),
    "one_step_short": ("answer_train", [("range(steps)", "range(steps - 1)")], LOOP,
                       "off-by-one in the loop's range"),
    "reset_one_batch_early": ("answer_train", [("if k == 0:", "if k == len(batches) - 1:")], LOOP,
                              "from a zero state (None)"),
    "fixed_max_norm": ("answer_train", [("state, max_norm)", "state, 1.0)")], LOOP,
                       "pass on the `max_norm` argument"),
    "extra_optimizer_step": ("answer_train", [("        losses.append(loss)\n",
                                               "        optimizer.step()\n        losses.append(loss)\n")], LOOP,
                             "outside train_step"),
    "returns_last_loss": ("answer_train", [("    return losses", "    return losses[-1]")], LOOP,
                          "list of the losses"),
    # --- sample_index
    "temperature_multiplies": ("answer_sample", [(SOFTMAX, SOFTMAX.replace("/", "*"))], SAMPLER,
                               "the temperature multiplies the scores"),
    "temperature_ignored": ("answer_sample", [(SOFTMAX, SOFTMAX.replace(" / temperature", ""))], SAMPLER,
                            "the temperature has no effect"),
    "temperature_after_softmax": ("answer_sample", [(SOFTMAX, "probs = torch.softmax(scores, dim=0) / temperature")],
                                  SAMPLER, "the temperature has no effect"),
    "always_greedy": ("answer_sample", [(f"    {SOFTMAX}", f"    return int(torch.argmax(scores))\n    {SOFTMAX}")],
                      SAMPLER | REPRO, "always the most likely index"),
    "zero_temperature_divides": ("answer_sample", [("    if temperature == 0:\n        return int(torch.argmax(scores))\n", "")],
                                 {"test_sampler_greedy"}, "return the argmax at temperature 0 before dividing"),
    "softmax_overflows": ("answer_sample", [(SOFTMAX, "e = torch.exp(scores.double() / temperature)\n"
                                                      "    probs = e / e.sum()")],
                          {"test_sampler_large_scores"}, "subtract the largest score first"),
    "softmax_shifted_by_min": ("answer_sample", [(SOFTMAX, "e = torch.exp((scores - scores.min()) / temperature)\n"
                                                           "    probs = e / e.sum()")],
                               {"test_sampler_large_scores"}, "subtract the largest score first"),
    "generator_ignored": ("answer_sample", [(DRAW, "torch.multinomial(probs, 1)")], REPRO,
                          "ignores the random generator it is given"),
    "numpy_draw": ("answer_sample", [(f"int({DRAW})", "int(np.random.choice(len(probs), p=probs.numpy()))")],
                   REPRO, "ignores the random generator it is given"),
    "generator_seeded_inside": ("answer_sample", [(DRAW, "torch.multinomial(probs, 1, generator=torch.Generator()"
                                                         ".manual_seed(0))")],
                                SAMPLER | REPRO, "do not seed a generator"),
    "multinomial_on_scores": ("answer_sample", [(SOFTMAX, "probs = scores / temperature")], SAMPLER | REPRO,
                              "takes probabilities"),
}


class TestA7Charlm(AssignmentTests):
    assignment, mutants, seed, nested = A, MUTANTS, 7, {"solution"}
    skip_in_process = TRAINING
    graded_mutants = {"combined": ("targets_not_shifted", "no_clipping", "generator_ignored"),
                      "combined2": ("float_ids", "state_not_carried", "temperature_multiplies")}
    # graded for real, training included: the model trained on unshifted targets fails held-out too;
    # float ids crash the training cell, so the model stays untrained
    graded_failing = {"targets_not_shifted": BATCHES | {"test_heldout_loss"},
                      "float_ids": BATCHES | {"test_heldout_loss"}}

    def test_model_trained_on_unshifted_targets_fails_the_heldout_threshold_with_the_reason(self, graded):
        results, out = graded
        assert "test_heldout_loss" in failed_tests(results["combined"])
        assert "worse than guessing from frequencies" in feedback_text(out, "combined")

    def test_a_loop_right_given_a_wrong_train_step_earns_its_points_and_says_so(self, graded):
        results, out = graded
        assert "test_train_values" not in failed_tests(results["combined"])
        assert "Right given your `train_step`:" in feedback_text(out, "combined")
        assert "Right given your `train_step`:" not in feedback_text(out, "solution")


# --- the judges on their own (in process, live and replayed) --------------------------------------

def _answers(**edits):
    """The namespace of the solution's answer cells, with mutants ``edits`` (names of MUTANTS) applied."""
    import numpy as np
    import torch
    from torch.nn import functional as F

    import notebook_cells

    code = notebook_cells.edited_answers(A)
    for name in edits.values():
        cell, replacements = MUTANTS[name][:2]
        for old, new in replacements:
            code[cell] = code[cell].replace(old, new)
    namespace = {"np": np, "torch": torch, "F": F}
    for cell in ("answer_batches", "answer_step", "answer_train", "answer_sample"):
        exec(compile(code[cell], cell, "exec"), namespace)
    return namespace


def _visible():
    from rnn_course.checks import charlm

    return charlm


def test_the_loop_earns_its_points_given_a_wrong_train_step_and_says_so(capsys):
    from autograder.checks import charlm

    charlm.train_values(_answers()["train"])
    assert "Right given" not in capsys.readouterr().out
    for mutant, check in (("no_clipping", charlm), ("no_clipping", _visible()), ("loss_summed", _visible())):
        check.train_values(_answers(step=mutant)["train"])
        assert capsys.readouterr().out.startswith("Right given your `train_step`:"), mutant


def test_the_loop_earns_its_points_when_the_train_step_fails_inside_it(capsys):
    for mutant in ("state_not_detached", "returns_given_state"):
        _visible().train_values(_answers(step=mutant)["train"])
        out = capsys.readouterr().out
        assert out.startswith("Right given your `train_step`:") and "stand-in" in out, (mutant, out)


def test_a_wrong_loop_around_a_wrong_train_step_still_fails_naming_the_loop_mistake():
    import pytest

    from rnn_course.judge import CheckFailed

    with pytest.raises(CheckFailed, match="keeps the state when the batches start again"):
        _visible().train_values(_answers(step="no_clipping", loop="state_not_reset")["train"])


def test_the_reproducibility_check_leaves_the_global_random_state_as_it_was():
    import numpy as np
    import torch

    torch.manual_seed(5)
    np.random.seed(5)
    before = torch.get_rng_state(), np.random.get_state()[1].copy()
    _visible().sampler_reproducible(_answers()["sample_index"])
    assert torch.equal(torch.get_rng_state(), before[0]) and np.array_equal(np.random.get_state()[1], before[1])


def test_the_given_model_and_score_are_the_course_s_own():
    """rnn_course.charmodel (in the student package) computes what rnn_ref.apps does: the same
    parameters give the same scores, and bits per character equal rnn_ref's evaluate_bpc."""
    import numpy as np
    import torch

    from rnn_course.charmodel import CharLM, bits_per_character, course_data
    from rnn_ref.apps.charlm import course_data as reference_data
    from rnn_ref.apps.charlm import evaluate_bpc
    from rnn_ref.apps.models import CharLM as Reference

    train, heldout, vocab = course_data()
    ref_train, ref_heldout, ref_vocab = reference_data()
    assert (train, heldout, vocab.tokens) == (ref_train, ref_heldout, ref_vocab.tokens)
    torch.manual_seed(3)
    ours, theirs = CharLM(len(vocab), "gru", 16, 8), Reference(len(vocab), "gru", 16, 8)
    theirs.load_state_dict(ours.state_dict())
    ids = vocab.encode(heldout[:3000])
    x = torch.as_tensor(ids[:50])[None]
    assert torch.allclose(ours(x)[0], theirs(x)[0])
    assert np.isclose(bits_per_character(ours, ids), evaluate_bpc(theirs, ids), rtol=1e-5)


def test_the_heldout_verdict_scores_the_parameters_on_the_course_s_own_text(capsys):
    """The held-out test reads the model's parameters (its experiment) and scores them in a CharLM of
    the course's, on the course's own held-out text: the notebook's `heldout_ids` changes nothing,
    and parameters of another shape are refused before a model of their size is built."""
    import numpy as np
    import pytest
    import torch

    from rnn_course import charlm_judge
    from rnn_course.charmodel import CharLM, course_data
    from rnn_course.judge import CheckFailed

    _, heldout, vocab = course_data()
    torch.manual_seed(0)
    model = CharLM(len(vocab), "gru", 8, 4)
    limits = dict(max_bpc=3.3, unigram_bpc=4.7, chars=2000)
    scores = []
    for ids in (vocab.encode(heldout), np.zeros(50, dtype=np.int64)):
        with pytest.raises(CheckFailed, match="worse than guessing from frequencies"):
            charlm_judge.heldout(model, ids, **limits)
        scores.append(capsys.readouterr().out)
    assert scores[0] == scores[1] and "bits per character" in scores[0]
    with pytest.raises(CheckFailed, match="not a trained torch model"):
        charlm_judge.heldout(None, None, **limits)
    with pytest.raises(CheckFailed, match="reads 20 symbols"):
        charlm_judge.heldout(CharLM(20, "gru", 8, 4), None, **limits)
    state = charlm_judge._experiment_parameters(model)["state"]
    for changed in ({**state, "rnn.weight_hh_l0": np.zeros((24, 9))}, {**state, "extra": np.zeros(1)},
                    {k: v for k, v in state.items() if k != "out.bias"}):
        with pytest.raises(CheckFailed, match="not the course's CharLM"):
            charlm_judge._charlm(changed, len(vocab))
