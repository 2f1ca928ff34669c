"""Checks for a7_charlm: batching, the training step and loop, the held-out loss, the sampler.

The model, the text and the score (:mod:`rnn_course.charmodel`) are given; the student writes the
parts around them. Each check draws its inputs, computes the expected values and the answers of
usual mistakes with the reference code below (rnn_ref's batching and training step, run on deep
copies of the same float64 model), and hands them to the judge of :mod:`rnn_course.charlm_judge`
through :func:`judged`. The visible tests are recorded at release (``autograder.record`` replaces
:func:`judged` and stores its data); the hidden ones run here, live.

A training step or loop is right when the parameters after it match to 1e-6. The sampler is
checked statistically on seeded generators (a chi-square test against softmax(scores / T)), and
for reproducibility: the same generator state gives the same draws, different states different
draws.
"""

import copy

import numpy as np
import torch
from torch.nn import functional as F

from rnn_course import charlm_judge
from rnn_course.charmodel import CharLM
from rnn_ref.apps.charlm import stream_batches
from rnn_ref.apps.models import detach_state

from .common import rng

HELDOUT_CHARS = 10_000  # the held-out loss is measured on this many characters (about 1 s)
MAX_HELDOUT_BPC = 3.3  # the unigram model of the text scores 4.7 bits per character
UNIGRAM_BPC = 4.7
DRAWS = 2000  # sampler draws per temperature
CHI2_LIMIT = 35.0  # chi-square with V - 1 = 5 degrees of freedom: p < 2e-6 beyond this
REPRODUCIBLE_DRAWS = 30
JUDGE_MODULE = charlm_judge  # autograder.record stores the data of judged() for the visible tests


def judged(test, functions, **data):
    """Run judge ``test`` of rnn_course.charlm_judge on the student's ``functions`` with ``data``
    (numpy arrays, numbers, lists and dicts of them: what the visible tests store)."""
    return getattr(charlm_judge, test)(*functions, **data)


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


def reference_step(model, optimizer, inputs, targets, state, max_norm, clip="norm", zero="before",
                   loss_on="targets", use_state=True):
    """One step of truncated BPTT: mean cross-entropy, backward, clip the global norm, update.

    Returns (loss as a float, the new state detached from the graph). The keywords make the usual
    mistakes: clip None / "value"; zero None (never); loss_on "inputs"; use_state False.
    """
    scores, state = model(inputs, state if use_state else None)
    loss = F.cross_entropy(scores.reshape(-1, scores.shape[-1]),
                           (inputs if loss_on == "inputs" else targets).reshape(-1))
    if zero == "before":
        optimizer.zero_grad()
    loss.backward()
    if clip == "norm":
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    elif clip == "value":
        torch.nn.utils.clip_grad_value_(model.parameters(), max_norm)
    elif clip == "fixed":
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
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

def _batch_data(ids, B, T):
    """The judge's data for make_batches on ids: expected (K, B, T) and the usual mistakes."""
    L = len(ids)
    n = (L - 1) // B
    expected = reference_batches(ids, B, T)
    K = len(expected)
    exp_x = np.stack([b[0].numpy() for b in expected])
    exp_y = np.stack([b[1].numpy() for b in expected])
    interleaved = ids[:n * B].reshape(n, B).T  # stream r = ids[r], ids[r + B], ...
    x, _ = stream_batches(ids, B)
    x = x.numpy()
    inputs = {
        "streams that interleave the text (ids.reshape(n, B).T): row r must be a contiguous stretch "
        "ids[r*n : (r+1)*n], so that the state carried to the next batch continues the same text":
            np.stack([interleaved[:, k * T:(k + 1) * T] for k in range(K)]),
        "chunks that overlap: batch k must start at position k * seq_len of every stream, not at k":
            np.stack([x[:, k:k + T] for k in range(K)]),
        "the targets: inputs and targets are swapped; the inputs are the characters read, the targets "
        "the characters one step later": exp_y,
    }
    ahead2 = ids[2:n * B + 2]
    targets = {"the inputs themselves: the target at each position is the next character, one step ahead": exp_x}
    if len(ahead2) == n * B:
        two = ahead2.reshape(B, n)
        targets["targets two characters ahead: the target at each position is the next character, one step "
                "ahead (ids[1:], not ids[2:])"] = np.stack([two[:, k * T:(k + 1) * T] for k in range(K)])
    return dict(ids=np.asarray(ids), batch_size=B, seq_len=T, inputs=exp_x, targets=exp_y,
                input_variants=list(inputs.items()), target_variants=list(targets.items()))


def batches_values(make_batches_student, test="batches_values"):
    """make_batches(ids, batch_size, seq_len) against the reference on random id sequences: one whose
    length is a multiple of batch_size, one of any length."""
    r = rng(test)
    B, T = int(r.integers(2, 5)), int(r.integers(3, 7))
    for L in (B * int(r.integers(4 * T, 7 * T)), int(r.integers(4 * B * T, 7 * B * T))):
        judged("batches", (make_batches_student,), **_batch_data(r.integers(0, 50, size=L), B, T))


def batches_edge_sizes(make_batches_student):
    """Edge cases: a single stream (B = 1, with an incomplete last chunk); L - 1 an exact multiple of
    B * seq_len."""
    r = rng("batches_edge_sizes")
    for L, B, T in ((23, 1, 5), (3 * 4 * 5 + 1, 3, 5)):
        judged("batches", (make_batches_student,), **_batch_data(r.integers(0, 50, size=L), B, T))


# ---------------------------------------------------------------------------------------------
# Exercise 2: one training step.

def _tiny_problem(test, batches=2, scale=1.0):
    """A float64 CharLM (V=7, H=5, E=3) and ``batches`` consecutive (inputs, targets) of 3 streams x 4.

    scale multiplies the output layer's weights: at 1e4 the scores are in the thousands, and the
    largest score of a row (position) differs by thousands from row to row: rows of very different
    scales.
    """
    r = rng(test)
    torch.manual_seed(int(r.integers(2**31)))
    model = CharLM(7, "gru", hidden_size=5, embed_size=3).double()
    with torch.no_grad():
        model.out.weight.mul_(scale)
    ids = r.integers(0, 7, size=3 * 4 * batches + 1)
    return model, reference_batches(ids, 3, 4), r


def _params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()


def _init(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


STEP_MISTAKES = {
    "a step without gradient clipping: call clip_grad_norm_(model.parameters(), max_norm) after "
    "backward() and before optimizer.step()": {"clip": None},
    "a step that never zeroes the gradients, so they pile up from step to step: call "
    "optimizer.zero_grad() before backward()": {"zero": None},
    "a step that clips each gradient entry to [-max_norm, max_norm] (clip_grad_value_): clip the global "
    "norm of all gradients together with clip_grad_norm_": {"clip": "value"},
    "a step that clips to the global norm 1.0, not to `max_norm`: pass the max_norm argument to "
    "clip_grad_norm_": {"clip": "fixed"},
    "a loss against the inputs: the cross-entropy compares the scores with the targets, the next "
    "characters": {"loss_on": "inputs"},
    "a step that runs the model from a zero state, ignoring `state`: call model(inputs, state), so that "
    "the batch continues from where the previous one ended": {"use_state": False},
}


def _step_data(test, steps=2, scale=8.0, lr=0.5, max_norm=0.05):
    """The judge's data for train_step: the model, batches, a carried start state, the expected
    losses and parameters after each step, and those of the usual mistakes. At the default scale
    (output weights times 8) the gradient's norm is above 1, so that clipping to max_norm, to 1.0
    and not at all give three different steps."""
    model, batches, r = _tiny_problem(test, steps, scale)
    state0 = torch.as_tensor(r.normal(size=(1, 3, 5)) * 0.5)

    def run(**kw):
        m = copy.deepcopy(model)
        opt = torch.optim.SGD(m.parameters(), lr=lr)
        state, losses, params = state0.clone(), [], []
        for x, y in batches:
            loss, state = reference_step(m, opt, x, y, state, max_norm, **kw)
            losses.append(loss)
            params.append(_params(m))
        return losses, params

    losses, params = run()
    mistakes = {d: run(**kw) for d, kw in STEP_MISTAKES.items()}
    return dict(config={"V": 7, "H": 5, "E": 3, "cell": "gru"}, init=_init(model), lr=lr, max_norm=max_norm,
                batches=[(x.numpy(), y.numpy()) for x, y in batches], state0=state0.numpy(),
                losses=losses, params=params,
                loss_variants=[(d, v[0]) for d, v in mistakes.items()],
                param_variants=[(d, v[1]) for d, v in mistakes.items()], large_scores=scale > 100)


def train_step_values(train_step_student, test="train_step_values"):
    """Two steps of the student's train_step against the reference on copies of one model (SGD with a
    large learning rate, so that clipping matters), from a carried state: the losses, the parameters
    after each step, and the returned state (detached, the model's new one). Then one step on a
    model whose scores are in the thousands (rows of very different scales): the loss and the
    update stay finite."""
    judged("train_step", (train_step_student,), **_step_data(test))
    judged("train_step", (train_step_student,), **_step_data(test + "_large", steps=1, scale=1e4))


# ---------------------------------------------------------------------------------------------
# Exercise 3: the training loop and the held-out loss.

def train_values(train_student, test="train_values"):
    """The student's train(model, batches, steps, lr, max_norm) against the reference loop: 7 steps
    over 3 batches (so the batches start again once), the losses and the final parameters. The
    small max_norm makes clipping act at every step. Where the numbers differ, the loop is judged
    by how it calls the student's own train_step (right given a wrong train_step earns the points)."""
    model, batches, _ = _tiny_problem(test, batches=3)
    start = copy.deepcopy(model)
    steps, lr, max_norm = 7, 0.05, 0.01
    losses = reference_train(model, batches, steps, lr, max_norm)
    variants = {
        "a loop that starts every batch from a zero state: carry the state returned by train_step to "
        "the next batch, which continues the same streams":
            reference_train(copy.deepcopy(start), batches, steps, lr, max_norm, carry=False),
        "a loop that keeps the state when the batches start again: after the last batch, restart from "
        "state None, since batch 0 does not continue the end of the text":
            reference_train(copy.deepcopy(start), batches, steps, lr, max_norm, reset=False),
    }
    judged("train", (train_student,), config={"V": 7, "H": 5, "E": 3, "cell": "gru"}, init=_init(start),
           batches=[(x.numpy(), y.numpy()) for x, y in batches], steps=steps, lr=lr, max_norm=max_norm,
           losses=losses, params=_params(model), variants=list(variants.items()))


def heldout_loss(model, heldout_ids):
    """The trained model's bits per character on the first HELDOUT_CHARS held-out characters."""
    judged("heldout", (model, heldout_ids), max_bpc=MAX_HELDOUT_BPC, unigram_bpc=UNIGRAM_BPC,
           chars=HELDOUT_CHARS)


# ---------------------------------------------------------------------------------------------
# Exercise 4: temperature sampling.

def _scores(r, V=6):
    """Well separated scores: the candidate distributions differ by far more than sampling noise."""
    return np.sort(r.normal(size=V) * 0.3 + np.linspace(2.0, -2.0, V))[::-1].copy()


def sampler_greedy(sample_index_student, test="sampler_greedy"):
    """Temperature 0 picks the argmax (without dividing by zero), for several score vectors."""
    r = rng(test)
    scores = [r.permutation(_scores(r)) for _ in range(5)]
    judged("sampler_greedy", (sample_index_student,), scores=scores,
           expected=[int(np.argmax(s)) for s in scores])


def _softmax(s, T):
    return torch.softmax(torch.as_tensor(s) / T, dim=0).numpy()


def _distribution_case(r, scores, T):
    V = len(scores)
    return {"scores": scores, "temperature": T, "seed": int(r.integers(2**31)), "target": _softmax(scores, T),
            "candidates": [
                ("softmax(scores * T): the temperature multiplies the scores; divide them, softmax(scores / T)",
                 _softmax(scores * T, 1.0)),
                ("softmax(scores): the temperature has no effect (ignored, or applied to the probabilities "
                 "after the softmax, which torch.multinomial normalises away)", _softmax(scores, 1.0)),
                ("always the most likely index: at T > 0 draw at random from softmax(scores / T) "
                 "(torch.multinomial with the generator)", np.eye(V)[int(np.argmax(scores))]),
                ("a uniform choice: draw from softmax(scores / T), not from the indices alone", np.full(V, 1 / V)),
            ]}


def sampler_distribution(sample_index_student, test="sampler_distribution", temperatures=(1.0, 0.5, 2.0)):
    """For each temperature, 2000 draws on a seeded generator follow softmax(scores / T): a
    chi-square test. A wrong distribution is named (temperature ignored or multiplied, greedy)."""
    r = rng(test)
    scores = _scores(r)
    judged("sampler_distribution", (sample_index_student,), draws=DRAWS, chi2_limit=CHI2_LIMIT,
           cases=[_distribution_case(r, scores, T) for T in temperatures])


def sampler_reproducible(sample_index_student, test="sampler_reproducible"):
    """30 draws at T = 1 from generators in the same state are the same; in different states they
    differ (they follow a nearly uniform distribution, so they do by far)."""
    r = rng(test)
    judged("sampler_reproducible", (sample_index_student,), scores=r.normal(size=8) * 0.2, temperature=1.0,
           seeds=[int(s) for s in r.choice(2**31, size=2, replace=False)], draws=REPRODUCIBLE_DRAWS)


def sampler_large_scores(sample_index_student, test="sampler_large_scores"):
    """Scores of very different scales: near 800 (same softmax as near 0), and spread over thousands
    (exp overflows unless the maximum is subtracted, not the minimum or the mean)."""
    r = rng(test)
    base = _scores(r)
    spread = np.array([1000.0, 999.0, 998.2, 0.0, -500.0, -1000.0])[r.permutation(6)]
    cases = [_distribution_case(r, base + 800.0, 1.0), _distribution_case(r, base + 800.0, 0.5),
             _distribution_case(r, spread, 1.0), _distribution_case(r, base * 1e-3, 1e-3)]
    judged("sampler_distribution", (sample_index_student,), draws=DRAWS, chi2_limit=CHI2_LIMIT, cases=cases)
