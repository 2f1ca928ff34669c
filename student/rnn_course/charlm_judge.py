"""Judging Assignment 7 (the character model): batches, a training step, the loop, the sampler.

Each judge gets the student's function(s) and the test's data: the inputs, the expected values
and the answers of usual mistakes, computed by the reference implementation (live in the
grader's hidden tests; stored in ``rnn_course/data/charlm.npz`` for the visible ones, replayed by
:mod:`rnn_course.replay`). Nothing here computes an answer. Some properties need no reference at
all and are judged from the student's own code: the sampler's reproducibility (the same
generator state gives the same draws, different states different draws), and whether the
training loop calls the student's own ``train_step`` the right way (follow-through: a loop that
is right given a wrong ``train_step`` earns its points, with a message saying so).

The model, optimizer and generator are updated in place by the student's code, so unlike
:func:`rnn_course.judge.call_student` nothing is copied; :func:`call` observes the call (warnings,
the reference implementation used, returned values that alias an input: ``Call.aliased``).
"""

import contextlib
import inspect
import sys
import warnings

import numpy as np
import torch

from . import judge
from .charmodel import CharLM
from .judge import CheckFailed, ForbiddenShortcut

JUDGES = ("batches", "train_step", "train", "heldout", "sampler_greedy", "sampler_distribution",
          "sampler_reproducible")

DETACH = ("return state.detach() from train_step, so that the next batch's backward pass stops there "
          "(truncated BPTT) instead of running into the previous batch's graph")


# ---------------------------------------------------------------------------------------------
# Calling the student's code.

def _tensor_overlap(a, b):
    if a is b:
        return True
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.numel() and b.numel():
        return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    return False


def _aliasing(value, args, names, outputs):
    """(output label, input name): returned tensors (or items of a returned tuple) that are an
    input tensor or share its storage (``x.detach()`` shares it)."""
    tops = list(zip(outputs, value)) if isinstance(value, tuple) and outputs and len(outputs) == len(value) \
        else [("the result", value)]
    found = []
    for label, out in tops:
        if not isinstance(out, torch.Tensor):
            continue
        for name, arg in zip(names, args):
            if isinstance(arg, torch.Tensor) and _tensor_overlap(out, arg):
                found.append((label, name))
                break
    return found


def call(fn, *args, outputs=None):
    """Call the student's ``fn(*args)`` on the caller's own objects; returns a :class:`judge.Call`.

    Warnings and stderr go to stdout (a cell writing to stderr scores 0), the unanswered stub and a
    backward pass into a freed graph become messages, and the reference implementation is off
    limits (naming rnn_ref, or entering it, raises ForbiddenShortcut). The given model may be used.
    """
    return calls(fn, [args], outputs=outputs)[0]


def calls(fn, arguments, outputs=None):
    """:func:`call` for each tuple of ``arguments`` in turn, observed as one (thousands of draws of
    a sampler cost one source check and one profiler); returns the list of :class:`judge.Call`."""
    name = getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise CheckFailed(f"`{name}` is not a function (it is a {type(fn).__name__}).")
    forbidden = f"`{name}` uses rnn_ref, the course's own implementation; write it yourself, so its tests score 0."
    if judge._shortcut_in_source(fn) == "rnn_ref":
        raise ForbiddenShortcut(forbidden)
    count = len(arguments[0]) if arguments else 0
    try:
        names = list(inspect.signature(fn).parameters)[:count]
    except (TypeError, ValueError):
        names = []
    names += [f"argument {i + 1}" for i in range(len(names), count)]
    reference, found, values = judge._rnn_ref_dir(), [], []

    def profiler(frame, event, arg):
        if event == "call" and reference and not found and frame.f_code.co_filename.startswith(reference):
            found.append(frame.f_code.co_name)

    with warnings.catch_warnings(record=True) as warned, contextlib.redirect_stderr(sys.stdout):
        warnings.simplefilter("always")
        sys.setprofile(profiler)
        try:
            for args in arguments:
                values.append((fn(*args), args))
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
    return [judge.Call(value, warned, [], _aliasing(value, args, names, outputs)) for value, args in values]


def _tensor(a):
    return None if a is None else torch.as_tensor(np.asarray(a))


def _sliced(a):
    """The ids ``a`` (B, T) as a slice of longer streams, as make_batches gives them: the same values,
    not contiguous in memory (``.view(-1)`` fails on it, ``.reshape(-1)`` works)."""
    wide = torch.as_tensor(np.concatenate([np.asarray(a), np.asarray(a)[:, :1]], axis=1))
    return wide[:, :-1]


VIEW = ("the batches are slices of longer streams, not contiguous in memory, so .view(-1) cannot flatten "
        "them: use .reshape(-1)")


def _model(config, init):
    """A float64 CharLM with the stored parameters ``init`` ({name: array})."""
    model = CharLM(config["V"], config.get("cell", "gru"), config["H"], config["E"]).double()
    model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in init.items()})
    return model


def _params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().copy()


def _grad_norm(model):
    grads = [p.grad.detach().reshape(-1) for p in model.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


def _number(v):
    """float(v), also for a tensor that requires grad (without torch's warning)."""
    return float(v.detach()) if isinstance(v, torch.Tensor) else float(v)


def _close(a, b, tol=1e-6):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol * (1 + np.abs(b))))


# ---------------------------------------------------------------------------------------------
# Exercise 1: batches.

def batches(make_batches, *, ids, batch_size, seq_len, inputs, targets, input_variants, target_variants):
    """make_batches(ids, batch_size, seq_len) against the expected inputs and targets (K, B, T).

    The batches may be views of ``ids`` (torch.as_tensor shares its memory): they are read, never
    written, so aliasing is not judged here. It is where it is a mistake: a train_step that returns
    the state it was given (``Call.aliased``)."""
    B, T, L = batch_size, seq_len, len(ids)
    n, K = (L - 1) // B, len(inputs)
    try:
        value = call(make_batches, np.array(ids), B, T).value
    except RuntimeError as exc:
        if "shape" in str(exc) or "size" in str(exc):
            raise CheckFailed(
                f"`make_batches` raised RuntimeError: {exc}. With L = {L} ids and B = {B}, each stream holds "
                f"n = (L - 1) // B = {n} inputs: the targets are one id ahead, so the last stream's last "
                f"target needs the id after n * B, and n = L // B (without the - 1) runs out of ids when L "
                f"is a multiple of B.") from None
        raise
    if not isinstance(value, (list, tuple)) or not all(isinstance(b, (list, tuple)) and len(b) == 2 for b in value):
        raise CheckFailed("`make_batches` should return a list of (inputs, targets) pairs.")
    for pair in value:
        for what, t in zip(("inputs", "targets"), pair):
            if not isinstance(t, torch.Tensor):
                raise CheckFailed(f"The {what} of a batch are a {type(t).__name__}; return torch tensors "
                                  "(torch.as_tensor), which the model takes.")
            if t.dtype != torch.int64:
                raise CheckFailed(f"The {what} of a batch are {t.dtype} tensors; they hold character ids, "
                                  "which the model's embedding and the cross-entropy take as torch.int64 "
                                  "(torch.long): keep the ids' integer type, no float conversion.")
    shapes = sorted({tuple(t.shape) for pair in value for t in pair})
    if len(value) != K or shapes != [(B, T)]:
        partial = " It keeps the incomplete last chunk: drop it." if len(value) == K + 1 else ""
        if shapes == [(T, B)] and T != B:
            partial += (" Your batches are (seq_len, batch_size): the course is batch first, one stream per row, "
                        "(batch_size, seq_len).")
        raise CheckFailed(f"`make_batches` returned {len(value)} batches of shapes {shapes}; expected "
                          f"{K} of shape {(B, T)}: with L = {L} ids and B = {B}, each stream holds "
                          f"n = (L - 1) // B = {n} inputs (one id is kept for the last target), which makes "
                          f"n // seq_len = {K} full chunks of {T}; drop the incomplete rest.{partial}")
    got_x = np.stack([pair[0].numpy() for pair in value])
    got_y = np.stack([pair[1].numpy() for pair in value])
    axes = ("batch k", "stream row", "position")
    judge.assert_close("inputs", got_x, inputs, axes=axes, variants=dict(input_variants))
    judge.assert_close("targets", got_y, targets, axes=axes, variants=dict(target_variants))


# ---------------------------------------------------------------------------------------------
# Exercise 2: one training step.

_LOSS_SCALES = {
    "the per-position sum: use the mean over all positions (cross_entropy's default)": "BT",
    "summed over the time steps and averaged over the streams only: use the mean over all B * T "
    "positions (cross_entropy's default)": "T",
    "summed over the streams and averaged over the time steps only: use the mean over all B * T "
    "positions (cross_entropy's default)": "B",
}


def _loss_hint(loss, expected, B, T):
    for description, scale in _LOSS_SCALES.items():
        factor = {"BT": B * T, "T": T, "B": B}[scale]
        if factor > 1 and abs(loss - expected * factor) <= 1e-6 * abs(expected * factor):
            return f" It is {description}."
    return ""


def train_step(train_step_fn, *, config, init, lr, max_norm, batches, state0, losses, params,
               loss_variants, param_variants, large_scores=False):
    """Steps of the student's train_step on a float64 CharLM (SGD with learning rate ``lr``), the
    state carried: each loss, the parameters after each step, the returned state (detached, the
    model's new one)."""
    model = _model(config, init)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    state = _tensor(state0)
    for k, (x, y) in enumerate(batches):
        step = f"step {k + 1}"
        before = _params(model)
        x, y = _sliced(x), _sliced(y)
        try:
            c = call(train_step_fn, model, optimizer, x, y, state, max_norm, outputs=("loss", "state"))
        except RuntimeError as exc:
            if "view size is not compatible" in str(exc):
                raise CheckFailed(f"`train_step` raised RuntimeError: {str(exc).split('.')[0]}: {VIEW}.") from None
            raise
        if not isinstance(c.value, tuple) or len(c.value) != 2:
            raise CheckFailed("`train_step` should return (loss, state).")
        loss, new_state = c.value
        if isinstance(loss, torch.Tensor):
            raise CheckFailed("`train_step` returned the loss as a torch tensor; return loss.item(), a Python "
                              "float: a tensor keeps the graph of its batch alive, and the training loop "
                              "keeps every loss.")
        try:
            loss = float(loss)
        except (TypeError, ValueError):
            raise CheckFailed(f"The loss returned by `train_step` should be a number (loss.item()), got {loss!r:.60}.") from None
        if isinstance(new_state, torch.Tensor) and new_state.requires_grad:
            raise CheckFailed(f"The state returned by `train_step` is still attached to the graph of its batch: {DETACH}.")
        if any(label == "state" for label, _ in c.aliased):
            raise CheckFailed("The state returned by `train_step` is the `state` it was given (or a view of it), "
                              "not the model's new state: return the state that model(inputs, state) returns, "
                              "detached, so that the next batch continues from the end of this one.")
        if not isinstance(new_state, torch.Tensor):
            raise CheckFailed(f"`train_step` returned the state {type(new_state).__name__}; return the model's new "
                              "state (the second value of model(inputs, state)), detached.")
        finite = np.isfinite(loss) and np.all(np.isfinite(_params(model)))
        if not finite:
            what = f"the loss {loss}" if not np.isfinite(loss) else "parameters with NaN or infinity"
            raise CheckFailed(
                f"`train_step` gave {what} at {step}"
                + (" on a model whose scores are large (thousands, and the largest score of a row differs by "
                   "thousands from row to row): the loss is not computed in a numerically stable way. "
                   "log(softmax(...)) or exp(...) by hand overflow or underflow, and so does a softmax shifted "
                   "by one maximum for all rows; F.cross_entropy (log_softmax inside) subtracts the maximum of "
                   "each row." if large_scores else "."))
        expected = float(losses[k])
        if abs(loss - expected) > 1e-6 * max(1.0, abs(expected)):
            named = [d for d, v in dict(loss_variants).items() if abs(loss - float(v[k])) <= 1e-6 * max(1.0, abs(float(v[k])))]
            raise CheckFailed(
                (f"Your loss matches {named[0]}. " if named else "")
                + f"`train_step` returned the loss {loss:.6g} at {step}; expected {expected:.6g}, the mean "
                f"cross-entropy of the batch before the update." + _loss_hint(loss, expected, *x.shape))
        after = _params(model)
        if _close(after, params[k]):
            state = new_state
            continue
        if _close(after, before, 1e-12):
            raise CheckFailed(f"The model's parameters did not change at {step}: the optimizer's step saw zero "
                              "gradients or did not run. The order is optimizer.zero_grad(), loss.backward(), "
                              "clip_grad_norm_, optimizer.step(); zeroing between backward() and step() erases "
                              "the gradients the step needs.")
        variants = dict(param_variants)
        clip = ("a step without gradient clipping: call clip_grad_norm_(model.parameters(), max_norm) after "
                "backward() and before optimizer.step()")
        if clip in variants and _close(after, variants[clip][k]) and _grad_norm(model) <= max_norm * (1 + 1e-6):
            raise CheckFailed("Your parameters match a step that clips the gradients after optimizer.step(): the "
                              "step already used the unclipped gradients. Call clip_grad_norm_(model.parameters(), "
                              "max_norm) between loss.backward() and optimizer.step().")
        judge.assert_close(f"the model's parameters after {step}", after, params[k], atol=1e-6,
                           variants={d: v[k] for d, v in variants.items()})
        state = new_state


# ---------------------------------------------------------------------------------------------
# Exercise 3: the training loop (follow-through on the student's train_step).

class _Observed:
    """Stands for train_step while the student's train runs: records every call, the model's
    parameters before and after it, and an exception raised inside it."""

    def __init__(self, fn, model):
        self.fn, self.model, self.calls, self.params, self.error = fn, model, [], [], None
        self.__name__ = getattr(fn, "__name__", "train_step")
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        before = _params(self.model)
        try:
            value = self.fn(*args, **kwargs)
        except Exception as exc:
            self.error = (len(self.calls), exc)
            raise
        self.calls.append((args, kwargs, value))
        self.params.append((before, _params(self.model)))
        return value


class _StandIn:
    """A train_step that judges the loop alone: it changes nothing and returns the loss 0.5 + k and a
    state tensor filled with k + 1, marking the call k that returned it."""

    __name__ = "train_step"

    def __init__(self, shape):
        self.shape, self.count = shape, 0

    def __call__(self, *args, **kwargs):
        self.count += 1
        return 0.5 + self.count - 1, torch.full(self.shape, float(self.count), dtype=torch.float64)


@contextlib.contextmanager
def _as_train_step(scope, fn):
    """``fn`` as the global ``train_step`` of the student's namespace ``scope`` for a while."""
    missing, old = "train_step" not in scope, scope.get("train_step")
    scope["train_step"] = fn
    try:
        yield
    finally:
        if missing:
            scope.pop("train_step", None)
        else:
            scope["train_step"] = old


def _step_args(args, kwargs):
    names = ("model", "optimizer", "inputs", "targets", "state", "max_norm")
    bound = dict(zip(names, args))
    bound.update({k: v for k, v in kwargs.items() if k in names})
    return bound


def _same_tensor(a, b):
    if a is b:
        return True
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a.detach().double(), b.detach().double()))
    return False


def _outside_changes(observed, start, model):
    """[a problem] when the loop changed the model's parameters between its calls of train_step."""
    ends = [start] + [after for _, after in observed.params]
    for i, (before, _) in enumerate(observed.params):
        if not _close(before, ends[i], 0):
            return [f"it changed the model's parameters outside train_step (before step {i}): every update "
                    "belongs inside train_step"]
    if observed.params and not _close(_params(model), ends[-1], 0):
        return ["it changed the model's parameters after its last train_step"]
    return []


def _loop_problems(observed, start, model, batches, steps, lr, max_norm, returned):
    """What the loop did wrong, judged from its calls of train_step alone: [] when it ran
    ``steps`` steps over the batches in order, with one Adam optimizer of learning rate ``lr``,
    the state carried from each batch to the next and None when the batches start again,
    ``max_norm`` passed on, and the losses of the calls returned."""
    problems, K, calls = _outside_changes(observed, start, model), len(batches), observed.calls
    if len(calls) != steps:
        problems.append(f"it called `train_step` {len(calls)} times; expected one call per step, {steps} "
                        "(an off-by-one in the loop's range?)")
    bound = [_step_args(a, kw) for a, kw, _ in calls]
    optimizers = {id(b.get("optimizer")) for b in bound}
    first = bound[0].get("optimizer") if bound else None
    if first is not None:
        kind = type(first).__name__
        if kind != "Adam":
            problems.append(f"its optimizer is torch.optim.{kind}; the task asks for torch.optim.Adam")
        group_lr = [g.get("lr") for g in getattr(first, "param_groups", [])]
        if group_lr and any(abs(float(v) - lr) > 1e-12 for v in group_lr):
            problems.append(f"its optimizer has the learning rate {group_lr[0]}; pass lr={lr} (the `lr` argument)")
        owned = {id(p) for g in getattr(first, "param_groups", []) for p in g["params"]}
        if owned != {id(p) for p in model.parameters()}:
            problems.append("its optimizer does not hold the parameters of the model it trains: "
                            "torch.optim.Adam(model.parameters(), lr=lr)")
    if len(optimizers) > 1:
        problems.append(f"it created {len(optimizers)} optimizers, a new one at every step: Adam's running "
                        "averages of the gradients start from zero each time; create the optimizer once, "
                        "before the loop")
    for i, b in enumerate(bound[:steps]):
        if b.get("model") is not model:
            problems.append(f"at step {i} it trained another model than the one given")
            break
        k = i % K
        if not (_same_tensor(b.get("inputs"), batches[k][0]) and _same_tensor(b.get("targets"), batches[k][1])):
            problems.append(f"at step {i} it did not use batch {k} (inputs and targets of batches[{k}]): take the "
                            "batches in order and start again at batch 0 after the last one")
            break
    for i, b in enumerate(bound[:steps]):
        state = b.get("state")
        if i % K == 0 and state is not None:
            problems.append(f"it keeps the state when the batches start again (step {i} runs batch 0 from a "
                            "carried state): after the last batch, restart from state None, since batch 0 does "
                            "not continue the end of the text")
            break
        if i % K and not _same_tensor(state, calls[i - 1][2][1] if isinstance(calls[i - 1][2], tuple) else None):
            problems.append("it starts batch {} (step {}) from {}: carry the state returned by train_step to the "
                            "next batch, which continues the same streams".format(
                                i % K, i, "a zero state (None)" if state is None else "another state than the one "
                                "the previous step returned"))
            break
    norms = {float(b.get("max_norm", np.nan)) for b in bound}
    if bound and norms != {float(max_norm)}:
        problems.append(f"it passed max_norm {sorted(norms)} to train_step; pass on the `max_norm` argument ({max_norm})")
    step_losses = [c[2][0] if isinstance(c[2], tuple) and c[2] else None for c in calls]
    try:
        same = len(returned) == len(step_losses) and all(
            _number(a) == _number(b) for a, b in zip(returned, step_losses))
    except (TypeError, ValueError):
        same = False
    if not same:
        problems.append("the list it returned is not the losses of its steps, one per step, in order")
    return problems


def _losses(returned):
    try:
        return np.array([_number(v) for v in returned])
    except (TypeError, ValueError):
        raise CheckFailed("`train` should return the list of the losses of every step (floats).") from None


RIGHT_LOOP = ("Right given your `train_step`: your loop calls it the right way (one Adam optimizer, the batches "
              "in order, the state carried and restarted, max_norm passed on) and returns its losses. ")


def train(train_fn, *, config, init, batches, steps, lr, max_norm, losses, params, variants):
    """The student's train(model, batches, steps, lr, max_norm) on a float64 CharLM: the losses and
    the final parameters against the reference loop. Where they differ (or the student's
    train_step fails inside the loop), the loop is judged alone: run with a stand-in train_step,
    its calls say whether it is right (then it earns its points: follow-through) or what it does
    wrong."""
    batches = [(_sliced(x), _sliced(y)) for x, y in batches]
    scope = getattr(train_fn, "__globals__", None)
    own_step = scope.get("train_step") if isinstance(scope, dict) else None
    model = _model(config, init)
    start = _params(model)
    if not callable(own_step):  # no train_step of the student's to follow: the numbers alone
        got = _losses(call(train_fn, model, batches, steps, lr, max_norm).value)
        judge.assert_close("losses", got, losses, axes=("step",), atol=1e-6, variants=dict(variants))
        judge.assert_close("the model's parameters after training", _params(model), params, atol=1e-6)
        return
    observed, step_error = _Observed(own_step, model), None
    with _as_train_step(scope, observed):
        try:
            returned = call(train_fn, model, batches, steps, lr, max_norm).value
        except Exception:
            if observed.error is None:
                raise
            step_error = observed.error
    if step_error is None:
        got = _losses(returned)
        if got.shape == np.shape(losses) and _close(got, losses) and _close(_params(model), params):
            return
    # the loop alone, around a stand-in for train_step
    alone = _model(config, init)
    stand_in = _Observed(_StandIn((1, batches[0][0].shape[0], config["H"])), alone)
    with _as_train_step(scope, stand_in):
        try:
            returned_alone = call(train_fn, alone, batches, steps, lr, max_norm).value
        except Exception:  # the loop relies on what the student's own train_step returns
            returned_alone = None
    if returned_alone is not None and stand_in.calls:
        problems = _loop_problems(stand_in, start, alone, batches, steps, lr, max_norm, returned_alone)
        if step_error is None:  # a stand-in computes no gradients: updates outside it show in the real run
            problems = _outside_changes(observed, start, model) + problems
    elif step_error is None and observed.calls:
        problems = _loop_problems(observed, start, model, batches, steps, lr, max_norm, returned)
    elif step_error is not None:
        raise step_error[1]
    else:  # no call of train_step: the numbers alone
        judge.assert_close("losses", got, losses, axes=("step",), atol=1e-6, variants=dict(variants))
        judge.assert_close("the model's parameters after training", _params(model), params, atol=1e-6)
        return
    if problems:
        raise CheckFailed("Your training loop is not right: " + "; ".join(problems) + ".")
    if step_error is not None:
        k, exc = step_error
        print(RIGHT_LOOP + f"Your `train_step` raised {type(exc).__name__} at step {k} ({str(exc)[:200]}), so the "
              "loop was run with a stand-in for it; its own test takes those points, this one does not.")
    else:
        print(RIGHT_LOOP + "The numbers differ from the reference loop's because your `train_step` differs from "
              "the reference step; its own test takes those points, this one does not.")


def heldout(model, heldout_ids, *, max_bpc, unigram_bpc, chars):
    """The trained model's bits per character on the first ``chars`` held-out characters."""
    from .charmodel import bits_per_character

    if not isinstance(model, torch.nn.Module):
        raise CheckFailed("`model` is not a trained torch model: run the training cell above first.")
    bpc = bits_per_character(model, np.asarray(heldout_ids)[:chars])
    print(f"Held-out loss: {bpc:.3f} bits per character (needed: below {max_bpc}; "
          f"a unigram model scores {unigram_bpc}).")
    if not bpc < max_bpc:
        raise CheckFailed(
            f"The trained model scores {bpc:.3f} bits per character on held-out text; it should be below "
            f"{max_bpc} (character frequencies alone give {unigram_bpc}). "
            + ("It is worse than guessing from frequencies: did the training cell run (Exercises 1 to 3 "
               "done), and are the targets one character ahead of the inputs?" if bpc > unigram_bpc
               else "Check the batching and the training loop."))


# ---------------------------------------------------------------------------------------------
# Exercise 4: temperature sampling.

def _draw(sample_index, scores, temperature, generator, draws=1):
    """``draws`` indices from the student's sample_index(scores, temperature, generator)."""
    try:
        found = calls(sample_index, [(scores.clone(), temperature, generator) for _ in range(draws)])
    except RuntimeError as exc:
        if "probability tensor contains" not in str(exc) and "invalid multinomial" not in str(exc):
            raise
        large = float(scores.abs().max()) / max(temperature, 1e-300) > 80
        if temperature == 0:
            why = "scores / 0 is infinite: return the argmax at temperature 0 before dividing"
        elif large:
            why = ("exp of large scores overflows: subtract the largest score first (torch.softmax does; "
                   f"these scores reach {float(scores.abs().max()):.4g})")
        else:
            why = ("torch.multinomial takes probabilities (>= 0), not scores or log-probabilities: turn the "
                   "scores into probabilities with a softmax first")
        raise CheckFailed(f"`sample_index` gave torch.multinomial probabilities with NaN, infinity or negative "
                          f"values at temperature {temperature}: {why}.") from None
    indices = []
    for c in found:
        value = c.value
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.reshape(())
        try:
            index = int(value)
        except (TypeError, ValueError, RuntimeError):
            raise CheckFailed(f"`sample_index` should return one index (an int), got {value!r:.60}.") from None
        if not 0 <= index < scores.shape[0]:
            raise CheckFailed(f"`sample_index` returned {index}, outside 0 .. {scores.shape[0] - 1}.")
        indices.append(index)
    return indices[0] if draws == 1 else indices


def sampler_greedy(sample_index, *, scores, expected):
    """Temperature 0 gives the argmax, for each stored score vector."""
    for s, want in zip(scores, expected):
        s = torch.as_tensor(np.asarray(s))
        got = _draw(sample_index, s, 0.0, torch.Generator().manual_seed(0))
        if got != int(want):
            raise CheckFailed(f"At temperature 0 `sample_index` returned {got}, not the argmax {int(want)} of "
                              f"{np.round(s.numpy(), 3).tolist()}. Temperature 0 is the limit T -> 0 of "
                              "softmax(scores / T): all the probability on the largest score; handle it before "
                              "dividing by T.")


def _chi2(counts, p):
    expected = np.asarray(p, dtype=float) * counts.sum()
    return float(np.sum((counts - expected) ** 2 / np.maximum(expected, 1e-12)))


def sampler_distribution(sample_index, *, cases, draws, chi2_limit):
    """For each case (scores, temperature, generator seed, target probabilities, the distributions of
    usual mistakes), ``draws`` draws on a seeded generator follow the target: a chi-square test."""
    for case in cases:
        scores = torch.as_tensor(np.asarray(case["scores"]))
        T, target = float(case["temperature"]), np.asarray(case["target"], dtype=float)
        generator = torch.Generator().manual_seed(int(case["seed"]))
        counts = np.bincount(_draw(sample_index, scores, T, generator, draws), minlength=scores.shape[0]).astype(float)
        chi2 = _chi2(counts, target)
        if chi2 < chi2_limit:
            continue
        matched = [d for d, p in dict(case["candidates"]).items() if _chi2(counts, p) < chi2_limit]
        freq = np.round(counts / draws, 3).tolist()
        scale = f" (scores up to {float(scores.abs().max()):.4g})" if float(scores.abs().max()) > 50 else ""
        raise CheckFailed(
            (f"Your samples match {matched[0]}. " if matched else "")
            + f"At temperature {T}{scale}, {draws} draws gave the frequencies {freq}; softmax(scores / T) is "
            f"{np.round(target, 3).tolist()} (chi-square {chi2:.0f}, allowed {chi2_limit:.0f}).")


def sampler_reproducible(sample_index, *, scores, temperature, seeds, draws):
    """Reproducibility: ``draws`` draws from a generator seeded with seeds[0], twice (with the global
    random state of torch and numpy moved in between), give the same indices; seeded with seeds[1]
    they differ. The global random states are restored afterwards."""
    scores = torch.as_tensor(np.asarray(scores))
    saved_torch, saved_numpy = torch.get_rng_state(), np.random.get_state()

    def run(seed):
        generator = torch.Generator().manual_seed(int(seed))
        return _draw(sample_index, scores, float(temperature), generator, draws)

    try:
        torch.manual_seed(int(seeds[0]) + 1)
        np.random.seed(int(seeds[0]) + 1)
        first = run(seeds[0])
        torch.manual_seed(int(seeds[1]) + 7)
        np.random.seed(int(seeds[1]) + 7)
        again = run(seeds[0])
        other = run(seeds[1])
    finally:
        torch.set_rng_state(saved_torch)
        np.random.set_state(saved_numpy)
    if first != again:
        raise CheckFailed(
            f"`sample_index` ignores the random generator it is given: two runs of {draws} draws from generators in "
            f"the same state gave different indices ({first[:8]}... and {again[:8]}...), so a sample cannot be "
            "reproduced. Draw with that generator (torch.multinomial(probs, 1, generator=generator)), not with "
            "torch's or numpy's global random state.")
    if first == other:
        raise CheckFailed(
            f"`sample_index` gave the same {draws} indices for generators in different states ({first[:8]}...): "
            "the draws do not depend on the random generator it is given. Draw with that generator "
            "(torch.multinomial(probs, 1, generator=generator)); do not seed a generator, or torch, inside "
            "the function.")
