"""Checks for a7_charlm: batching, the training step and loop, the held-out loss, the sampler.

The model (rnn_ref.apps.models.CharLM, a torch GRU) and the data (rnn_ref.apps.charlm) are
given; the student writes the parts around them. Expected values come from the reference
functions below, run on deep copies of the same model: a training step or loop is right when the
parameters after it match to 1e-6 (float64 models). The sampler is checked statistically on a
fixed seed: 3000 draws per temperature against softmax(scores / T), with a chi-square test.
"""

import contextlib
import copy
import inspect
import os
import sys
import warnings

import numpy as np
import torch
from torch.nn import functional as F

from rnn_ref.apps import charlm as reference_app
from rnn_ref.apps import training as reference_training
from rnn_ref.apps.charlm import evaluate_bpc, stream_batches
from rnn_ref.apps.models import CharLM, detach_state

from .common import CheckFailed, ForbiddenShortcut, assert_close, rng

HELDOUT_CHARS = 10_000  # the held-out loss is measured on this many characters (about 1 s)
MAX_HELDOUT_BPC = 3.3  # the unigram model of the text scores 4.7 bits per character
UNIGRAM_BPC = 4.7
DRAWS = 3000  # sampler draws per temperature
CHI2_LIMIT = 35.0  # chi-square with V - 1 = 5 degrees of freedom: p < 2e-6 beyond this


DETACH = ("return state.detach() from train_step, so that the next batch's backward pass stops there "
          "(truncated BPTT) instead of running into the previous batch's graph")


_REFERENCE_FILES = tuple(os.path.abspath(m.__file__) for m in (reference_app, reference_training))


def call_student(fn, *args):
    """Call the student's ``fn(*args)`` on the caller's own objects.

    Unlike common.call_student, nothing is copied: these exercises update the model, the
    optimizer and the random generator in place, and the checks look at them afterwards. As
    there, warnings and stderr go to stdout (nbgrader zeroes a cell that writes to stderr), the
    unanswered stub becomes a message, and the reference solution is off limits: naming rnn_ref
    in the function, or entering rnn_ref.apps.charlm or rnn_ref.apps.training (the course's own
    batching, training and sampling), raises ForbiddenShortcut. The given model may be used.
    """
    name = getattr(fn, "__name__", "your function")
    forbidden = f"`{name}` uses rnn_ref's own character-model code; write it yourself, so its tests score 0."
    with contextlib.suppress(OSError, TypeError):
        if "rnn_ref" in inspect.getsource(fn):
            raise ForbiddenShortcut(forbidden)
    found = []

    def profiler(frame, event, arg):
        if event == "call" and not found and frame.f_code.co_filename.endswith(_REFERENCE_FILES):
            found.append(frame.f_code.co_name)

    with warnings.catch_warnings(record=True) as warned, contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("always")
        sys.setprofile(profiler)
        try:
            value = fn(*args)
        except NotImplementedError:
            raise CheckFailed(f"`{name}` is not implemented yet (it raised NotImplementedError): "
                              "replace the stub with your code.") from None
        except RuntimeError as exc:
            if "backward through the graph a second time" in str(exc):
                raise CheckFailed(f"`{name}` ran backward into a graph that was already freed: {DETACH}.") from None
            raise
        finally:
            sys.setprofile(None)
    if found:
        raise ForbiddenShortcut(forbidden)
    for w in warned:
        print(f"Note: `{name}` raised a warning (a warning alone costs no points): {w.category.__name__}: {w.message}")
    return value


# ---------------------------------------------------------------------------------------------
# Reference implementations.

def reference_batches(ids, batch_size, seq_len):
    """ids (L,) -> list of (inputs, targets) int64 tensors (B, seq_len).

    The text is cut into B contiguous streams of n = (L - 1) // B characters (rnn_ref's
    stream_batches), targets one character ahead; batch k holds positions k*T .. k*T + T - 1 of
    every stream, so row n of batch k+1 continues row n of batch k. Only full chunks are kept.
    """
    x, y = stream_batches(ids, batch_size)
    return [(x[:, k * seq_len:(k + 1) * seq_len], y[:, k * seq_len:(k + 1) * seq_len])
            for k in range(x.shape[1] // seq_len)]


def reference_step(model, optimizer, inputs, targets, state, max_norm, clip=True, zero_grad=True):
    """One step of truncated BPTT: mean cross-entropy, backward, clip the global norm, update.

    Returns (loss as a float, the new state detached from the graph).
    """
    scores, state = model(inputs, state)
    loss = F.cross_entropy(scores.reshape(-1, scores.shape[-1]), targets.reshape(-1))
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item(), detach_state(state)


def reference_train(model, batches, steps, lr, max_norm, carry=True, reset=True):
    """Adam over ``steps`` batches taken in order, the state carried from batch to batch and
    restarted (None) when the batches start again. Returns the list of losses."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, state, k = [], None, 0
    for _ in range(steps):
        if k == len(batches):
            k, state = 0, (None if reset else state)
        loss, state = reference_step(model, optimizer, *batches[k], state if carry else None, max_norm)
        losses.append(loss)
        k += 1
    return losses


# ---------------------------------------------------------------------------------------------
# Exercise 1: batching.

def _check_list(batches, expected, L, B, T):
    """The student's batches as two int arrays (K, B, T), or CheckFailed saying what is off."""
    if not isinstance(batches, (list, tuple)) or not all(isinstance(b, (list, tuple)) and len(b) == 2 for b in batches):
        raise CheckFailed("`make_batches` should return a list of (inputs, targets) pairs.")
    n = (L - 1) // B
    shapes = {tuple(np.shape(a)) for pair in batches for a in pair}
    if len(batches) != len(expected) or shapes - {(B, T)}:
        raise CheckFailed(f"`make_batches` returned {len(batches)} batches of shapes {sorted(shapes)}; expected "
                          f"{len(expected)} of shape {(B, T)}: with L = {L} ids and B = {B}, each stream holds "
                          f"n = (L - 1) // B = {n} inputs (one id is kept for the last target), which makes "
                          f"n // seq_len = {len(expected)} full chunks of {T}; drop the incomplete rest.")
    return [np.stack([np.asarray(pair[j]) for pair in batches]) for j in (0, 1)]


def batches_values(make_batches_student, test="batches_values", L=None, B=None, T=None):
    """make_batches(ids, batch_size, seq_len) against the reference on a random id sequence."""
    r = rng(test)
    B, T = B or int(r.integers(2, 5)), T or int(r.integers(3, 7))
    L = L or int(r.integers(4 * B * T, 7 * B * T))
    ids = r.integers(0, 50, size=L)
    batches = call_student(make_batches_student, ids.copy(), B, T)
    expected = reference_batches(ids, B, T)
    got_x, got_y = _check_list(batches, expected, L, B, T)
    n = (L - 1) // B
    exp_x = np.stack([b[0].numpy() for b in expected])
    exp_y = np.stack([b[1].numpy() for b in expected])
    interleaved = ids[:n * B].reshape(n, B).T  # stream n = ids[n], ids[n + B], ...
    axes = ("batch k", "stream row", "position")
    assert_close("inputs", got_x, exp_x, axes=axes, variants={
        "streams that interleave the text (ids.reshape(n, B).T): row n must be a contiguous stretch "
        "ids[n*L : (n+1)*L], so that the state carried to the next batch continues the same text":
            np.stack([interleaved[:, k * T:(k + 1) * T] for k in range(len(expected))])})
    assert_close("targets", got_y, exp_y, axes=axes, variants={
        "the inputs themselves: the target at each position is the next character, one step ahead": exp_x})


def batches_edge_sizes(make_batches_student):
    """Edge cases: a single stream (B = 1, with an incomplete last chunk); L - 1 an exact multiple of
    B * seq_len."""
    batches_values(make_batches_student, test="batches_single_stream", L=23, B=1, T=5)
    batches_values(make_batches_student, test="batches_exact_fit", L=3 * 4 * 5 + 1, B=3, T=5)


# ---------------------------------------------------------------------------------------------
# Exercise 2: one training step.

def _tiny_problem(test, batches=2):
    """A float64 CharLM (V=7, H=5) and ``batches`` consecutive (inputs, targets) of 3 streams x 4."""
    r = rng(test)
    torch.manual_seed(int(r.integers(2**31)))
    model = CharLM(7, "gru", hidden_size=5, embed_size=3).double()
    ids = r.integers(0, 7, size=3 * 4 * batches + 1)
    return model, reference_batches(ids, 3, 4)


def _params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()


def _student_step(train_step, model, optimizer, inputs, targets, state, max_norm):
    value = call_student(train_step, model, optimizer, inputs, targets, state, max_norm)
    if not isinstance(value, tuple) or len(value) != 2:
        raise CheckFailed("`train_step` should return (loss, state).")
    return value


def train_step_values(train_step_student, test="train_step_values"):
    """Two steps of the student's train_step against the reference on copies of one model (SGD with a
    large learning rate, so that clipping matters): the losses, the parameters after each step, and
    the returned state detached."""
    model, batches = _tiny_problem(test)
    ref_model = copy.deepcopy(model)
    opt, ref_opt = torch.optim.SGD(model.parameters(), lr=0.5), torch.optim.SGD(ref_model.parameters(), lr=0.5)
    variant_runs = {}
    for key, kwargs in (("no_clip", {"clip": False}), ("no_zero", {"zero_grad": False})):
        m = copy.deepcopy(model)
        o = torch.optim.SGD(m.parameters(), lr=0.5)
        variant_runs[key] = (m, o, kwargs, None)
    state, ref_state, max_norm = None, None, 0.05
    for k, (inputs, targets) in enumerate(batches):
        loss, state = _student_step(train_step_student, model, opt, inputs, targets, state, max_norm)
        if isinstance(state, torch.Tensor) and state.requires_grad:
            raise CheckFailed(f"The state returned by `train_step` is still attached to the graph of its batch: {DETACH}.")
        ref_loss, ref_state = reference_step(ref_model, ref_opt, inputs, targets, ref_state, max_norm)
        variants = {}
        for key, (m, o, kwargs, s) in variant_runs.items():
            _, s = reference_step(m, o, inputs, targets, s, max_norm, **kwargs)
            variant_runs[key] = (m, o, kwargs, s)
            variants[key] = _params(m)
        step = f"after step {k + 1}"
        try:
            loss = float(loss)
        except (TypeError, ValueError):
            raise CheckFailed(f"The loss returned by `train_step` should be a number (loss.item()), got {loss!r}.") from None
        if abs(loss - ref_loss) > 1e-6 * max(1.0, abs(ref_loss)):
            hint = (" It is the per-position sum: use the mean over all positions (cross_entropy's default)."
                    if abs(loss - ref_loss * inputs.numel()) < 1e-6 * abs(ref_loss * inputs.numel()) else "")
            raise CheckFailed(f"`train_step` returned the loss {loss:.6g} at step {k + 1}; expected {ref_loss:.6g}, "
                              f"the mean cross-entropy of the batch before the update.{hint}")
        assert_close(f"the model's parameters {step}", _params(model), _params(ref_model), atol=1e-6, variants={
            "a step without gradient clipping: call clip_grad_norm_(model.parameters(), max_norm) after "
            "backward() and before optimizer.step()": variants["no_clip"],
            "a step that never zeroes the gradients, so they pile up from step to step: call "
            "optimizer.zero_grad() before backward()": variants["no_zero"],
        })


# ---------------------------------------------------------------------------------------------
# Exercise 3: the training loop and the held-out loss.

def train_values(train_student, test="train_values"):
    """The student's train(model, batches, steps, lr, max_norm) against the reference loop: 7 steps
    over 3 batches (so the batches start again once), the losses and the final parameters. The
    small max_norm makes clipping act at every step."""
    model, batches = _tiny_problem(test, batches=3)
    ref_model, model_start = copy.deepcopy(model), copy.deepcopy(model)
    returned = call_student(train_student, model, batches, 7, 0.05, 0.01)
    expected = reference_train(ref_model, batches, 7, 0.05, 0.01)
    variants = {
        "a loop that starts every batch from a zero state: carry the state returned by train_step to "
        "the next batch, which continues the same streams":
            lambda: reference_train(copy.deepcopy(model_start), batches, 7, 0.05, 0.01, carry=False),
        "a loop that keeps the state when the batches start again: after the last batch, restart from "
        "state None, since batch 0 does not continue the end of the text":
            lambda: reference_train(copy.deepcopy(model_start), batches, 7, 0.05, 0.01, reset=False),
    }
    try:
        losses = [float(v) for v in returned]
    except (TypeError, ValueError):
        raise CheckFailed("`train` should return the list of the losses of every step (floats).") from None
    assert_close("losses", np.array(losses), np.array(expected), axes=("step",), atol=1e-6, variants=variants)
    assert_close("the model's parameters after training", _params(model), _params(ref_model), atol=1e-6)


def heldout_loss(model, heldout_ids):
    """The trained model's bits per character on the first HELDOUT_CHARS held-out characters."""
    if not isinstance(model, torch.nn.Module):
        raise CheckFailed("`model` is not a trained torch model: run the training cell above first.")
    bpc = evaluate_bpc(model, np.asarray(heldout_ids)[:HELDOUT_CHARS])
    print(f"Held-out loss: {bpc:.3f} bits per character (needed: below {MAX_HELDOUT_BPC}; "
          f"a unigram model scores {UNIGRAM_BPC}).")
    if not bpc < MAX_HELDOUT_BPC:
        raise CheckFailed(
            f"The trained model scores {bpc:.3f} bits per character on held-out text; it should be below "
            f"{MAX_HELDOUT_BPC} (character frequencies alone give {UNIGRAM_BPC}). "
            + ("It is worse than guessing from frequencies: did the training cell run (Exercises 1 to 3 "
               "done), and are the targets one character ahead of the inputs?" if bpc > UNIGRAM_BPC
               else "Check the batching and the training loop."))


# ---------------------------------------------------------------------------------------------
# Exercise 4: temperature sampling.

def _call_sampler(sample_index, scores, temperature, generator):
    try:
        value = call_student(sample_index, scores.clone(), temperature, generator)
    except RuntimeError as exc:
        if "probability tensor contains" not in str(exc):
            raise
        why = ("scores / 0 is infinite: return the argmax at temperature 0 before dividing" if temperature == 0
               else "exp of large scores overflows: subtract the largest score first (torch.softmax does)")
        raise CheckFailed(f"`sample_index` gave torch.multinomial probabilities with NaN or infinity at "
                          f"temperature {temperature}: {why}.") from None
    try:
        index = int(value)
    except (TypeError, ValueError):
        raise CheckFailed(f"`sample_index` should return one index (an int), got {value!r}.") from None
    if not 0 <= index < scores.shape[0]:
        raise CheckFailed(f"`sample_index` returned {index}, outside 0 .. {scores.shape[0] - 1}.")
    return index


def _scores(r, V=6):
    """Well separated scores: the candidate distributions differ by far more than sampling noise."""
    return torch.tensor(np.sort(r.normal(size=V) * 0.3 + np.linspace(2.0, -2.0, V))[::-1].copy())


def sampler_greedy(sample_index_student, test="sampler_greedy"):
    """Temperature 0 picks the argmax (without dividing by zero), for several score vectors."""
    r = rng(test)
    for _ in range(5):
        scores = torch.tensor(r.permutation(_scores(r).numpy()))
        got = _call_sampler(sample_index_student, scores, 0.0, torch.Generator().manual_seed(0))
        if got != int(torch.argmax(scores)):
            raise CheckFailed(f"At temperature 0 `sample_index` returned {got}, not the argmax "
                              f"{int(torch.argmax(scores))} of {np.round(scores.numpy(), 3).tolist()}. "
                              "Temperature 0 is the limit T -> 0 of softmax(scores / T): all the "
                              "probability on the largest score; handle it before dividing by T.")


def _chi2(counts, p):
    expected = p * counts.sum()
    return float(np.sum((counts - expected) ** 2 / np.maximum(expected, 1e-12)))


def sampler_distribution(sample_index_student, test="sampler_distribution", temperatures=(1.0, 0.5, 2.0),
                         shift=0.0):
    """For each temperature, 3000 draws on a seeded generator follow softmax(scores / T): a
    chi-square test. A wrong distribution is named (temperature ignored or multiplied, greedy)."""
    r = rng(test)
    scores = _scores(r) + shift  # softmax is the same for shifted scores
    generator = torch.Generator().manual_seed(int(r.integers(2**31)))
    for T in temperatures:
        counts = np.zeros(scores.shape[0])
        for _ in range(DRAWS):
            counts[_call_sampler(sample_index_student, scores, T, generator)] += 1
        target = torch.softmax(scores / T, dim=0).numpy()
        chi2 = _chi2(counts, target)
        if chi2 < CHI2_LIMIT:
            continue
        candidates = {
            "softmax(scores * T): the temperature multiplies the scores; divide them, softmax(scores / T)":
                torch.softmax(scores * T, dim=0).numpy(),
            "softmax(scores): the temperature is ignored": torch.softmax(scores, dim=0).numpy(),
            "always the most likely index: at T > 0 draw at random from softmax(scores / T) "
            "(torch.multinomial with the generator)": np.eye(scores.shape[0])[int(torch.argmax(scores))],
            "a uniform choice: draw from softmax(scores / T), not from the indices alone":
                np.full(scores.shape[0], 1 / scores.shape[0]),
        }
        matched = [d for d, p in candidates.items() if _chi2(counts, p) < CHI2_LIMIT]
        freq = np.round(counts / DRAWS, 3).tolist()
        raise CheckFailed(
            (f"Your samples match {matched[0]}. " if matched else "")
            + f"At temperature {T}, {DRAWS} draws gave the frequencies {freq}; softmax(scores / T) is "
            f"{np.round(target, 3).tolist()} (chi-square {chi2:.0f}, allowed {CHI2_LIMIT:.0f}).")


def sampler_large_scores(sample_index_student):
    """Scores near 800 (same softmax as near 0): exp(800) overflows unless the maximum is subtracted."""
    sampler_distribution(sample_index_student, test="sampler_large_scores", temperatures=(1.0, 0.5), shift=800.0)
