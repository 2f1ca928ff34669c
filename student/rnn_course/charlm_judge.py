"""Judging Assignment 7 (the character model): batches, a training step, the loop, the sampler.

Each judge gets the student's function(s) and the test's data: the inputs, the expected values
and the answers of usual mistakes, computed by the reference implementation (live in the
grader's hidden tests; stored in ``rnn_course/data/charlm.npz`` for the visible ones, replayed by
:mod:`rnn_course.replay`). Nothing here computes an answer. Some properties need no reference at
all and are judged from the student's own code: the sampler's reproducibility (the same
generator state gives the same draws, different states different draws), and whether the
training loop calls the student's own ``train_step`` the right way (follow-through: a loop that
is right given a wrong ``train_step`` earns its points, with a message saying so).

The model, optimizer and generator are updated in place by the student's code, so each judge is
split in two (:mod:`rnn_course.experiment`): an *experiment* (the ``_experiment_*`` functions,
listed in :data:`EXPERIMENTS`) builds them from the test's inputs, calls the student's functions
and returns what it observed as data: losses, parameters as arrays, the returned values, the
calls the loop made (an exception of the student's code is returned too, so that the verdict
meets it in order). It never sees an expected value. The *verdict* (the judge itself) compares
that data with the expected values and writes every message. In the grader the experiment runs
in the student's kernel and the verdict in the grader; in the student's notebook both run there.
"""

import contextlib
import inspect
import io
import sys
import types
import warnings

import numpy as np
import torch

from . import experiment, judge
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


def _run(name, functions, **data):
    """Experiment ``name`` of this module where the student's functions live (rnn_course.experiment)."""
    return experiment.run(__name__, name, functions, data)


def _printed(run, limit=200_000):
    """Call ``run()`` with stdout captured: (its result or the exception it raised, the text).

    An experiment that runs several steps keeps each step's output, so that the verdict shows it
    only for the steps it reaches (as if it had stopped the experiment there)."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            value = run()
    except Exception as exc:  # noqa: BLE001 (the student's error, met by the verdict in order)
        value = exc
    return value, buffer.getvalue()[:limit]


def _reraise(error):
    """Raise an exception the experiment met (the student's own, or a check's message)."""
    raise error


# ---------------------------------------------------------------------------------------------
# Exercise 1: batches.

def batches(make_batches, *, ids, batch_size, seq_len, inputs, targets, input_variants, target_variants):
    """make_batches(ids, batch_size, seq_len) against the expected inputs and targets (K, B, T).

    The batches may be views of ``ids`` (torch.as_tensor shares its memory): they are read, never
    written, so aliasing is not judged here. It is where it is a mistake: a train_step that returns
    the state it was given (``Call.aliased``)."""
    B, T, L = batch_size, seq_len, len(ids)
    n, K = (L - 1) // B, len(inputs)
    found = _run("batches", (make_batches,), ids=np.asarray(ids), batch_size=B, seq_len=T)
    if "error" in found:
        exc = found["error"]
        if "shape" in str(exc) or "size" in str(exc):
            raise CheckFailed(
                f"`make_batches` raised RuntimeError: {exc}. With L = {L} ids and B = {B}, each stream holds "
                f"n = (L - 1) // B = {n} inputs: the targets are one id ahead, so the last stream's last "
                f"target needs the id after n * B, and n = L // B (without the - 1) runs out of ids when L "
                f"is a multiple of B.") from None
        _reraise(exc)
    value = found["value"]
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


def _experiment_batches(make_batches, *, ids, batch_size, seq_len):
    """{"value": what make_batches(ids, batch_size, seq_len) returned} or {"error": its RuntimeError}."""
    try:
        return {"value": call(make_batches, np.array(ids), batch_size, seq_len).value}
    except RuntimeError as exc:
        return {"error": exc}


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
    found = _run("train_step", (train_step_fn,), config=config, init=init, lr=lr, max_norm=max_norm,
                 batches=batches, state0=state0)
    before = found["start"]
    for k, (x, _) in enumerate(batches):
        step = f"step {k + 1}"
        if k >= len(found["steps"]):  # the experiment stops only after a step judged wrong below
            raise CheckFailed(f"`train_step` was not run at {step} (the experiment's record ends before it).")
        s = found["steps"][k]
        if s["printed"]:
            print(s["printed"], end="")
        if "error" in s:
            if s["runtime"] and "view size is not compatible" in str(s["error"]):
                raise CheckFailed(f"`train_step` raised RuntimeError: {str(s['error']).split('.')[0]}: {VIEW}.") from None
            _reraise(s["error"])
        value, after = s["value"], s["params"]
        if not isinstance(value, tuple) or len(value) != 2:
            raise CheckFailed("`train_step` should return (loss, state).")
        loss, new_state = value
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
        if "state" in s["aliased"]:
            raise CheckFailed("The state returned by `train_step` is the `state` it was given (or a view of it), "
                              "not the model's new state: return the state that model(inputs, state) returns, "
                              "detached, so that the next batch continues from the end of this one.")
        if not isinstance(new_state, torch.Tensor):
            raise CheckFailed(f"`train_step` returned the state {type(new_state).__name__}; return the model's new "
                              "state (the second value of model(inputs, state)), detached.")
        finite = np.isfinite(loss) and np.all(np.isfinite(after))
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
                f"cross-entropy of the batch before the update." + _loss_hint(loss, expected, *np.shape(x)))
        if _close(after, params[k]):
            before = after
            continue
        if _close(after, before, 1e-12):
            raise CheckFailed(f"The model's parameters did not change at {step}: the optimizer's step saw zero "
                              "gradients or did not run. The order is optimizer.zero_grad(), loss.backward(), "
                              "clip_grad_norm_, optimizer.step(); zeroing between backward() and step() erases "
                              "the gradients the step needs.")
        variants = dict(param_variants)
        clip = ("a step without gradient clipping: call clip_grad_norm_(model.parameters(), max_norm) after "
                "backward() and before optimizer.step()")
        if clip in variants and _close(after, variants[clip][k]) and s["grad_norm"] <= max_norm * (1 + 1e-6):
            raise CheckFailed("Your parameters match a step that clips the gradients after optimizer.step(): the "
                              "step already used the unclipped gradients. Call clip_grad_norm_(model.parameters(), "
                              "max_norm) between loss.backward() and optimizer.step().")
        judge.assert_close(f"the model's parameters after {step}", after, params[k], atol=1e-6,
                           variants={d: v[k] for d, v in variants.items()})
        before = after


def _experiment_train_step(train_step_fn, *, config, init, lr, max_norm, batches, state0):
    """The student's train_step on a float64 CharLM built from ``config`` and ``init`` (SGD, learning
    rate ``lr``), one step per batch from ``state0``, the returned state carried. Returns the
    parameters at the start and, per step, what it printed, what it returned, which returned items
    are an input (``aliased``), the parameters and the gradients' norm after it, or the exception
    it raised (``runtime``: a RuntimeError); the steps stop after one that raised or returned no
    state tensor."""
    model = _model(config, init)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    state, steps = _tensor(state0), []
    found = {"start": _params(model), "steps": steps}
    for x, y in batches:
        x, y = _sliced(x), _sliced(y)
        c, printed = _printed(lambda: call(train_step_fn, model, optimizer, x, y, state, max_norm,
                                           outputs=("loss", "state")))
        if isinstance(c, Exception):
            steps.append({"printed": printed, "error": c, "runtime": isinstance(c, RuntimeError)})
            break
        steps.append({"printed": printed, "value": c.value, "aliased": [label for label, _ in c.aliased],
                      "params": _params(model), "grad_norm": _grad_norm(model)})
        if not (isinstance(c.value, tuple) and len(c.value) == 2 and isinstance(c.value[1], torch.Tensor)):
            break
        state = c.value[1]
    return found


# ---------------------------------------------------------------------------------------------
# Exercise 3: the training loop (follow-through on the student's train_step).

def _observed(fn, model, record):
    """A function that stands for train_step while the student's train runs: it calls ``fn`` and
    records each call in ``record`` (a dict: ``calls``, ``params`` before and after each call, the
    ``error`` raised inside it as (call number, exception)). A plain function, so that the student's
    loop reaches its records only through the attributes the tamper scan refuses."""
    record.update(calls=[], params=[], error=None)

    def train_step(*args, **kwargs):
        before = _params(model)
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:
            record["error"] = (len(record["calls"]), exc)
            raise
        record["calls"].append((args, kwargs, value))
        record["params"].append((before, _params(model)))
        return value

    train_step.__name__ = train_step.__qualname__ = getattr(fn, "__name__", "train_step")
    return train_step


def _stand_in(shape):
    """A train_step that judges the loop alone: it changes nothing and returns the loss 0.5 + k and a
    state tensor filled with k + 1, marking the call k that returned it."""
    count = [0]

    def train_step(*args, **kwargs):
        count[0] += 1
        return 0.5 + count[0] - 1, torch.full(shape, float(count[0]), dtype=torch.float64)

    return train_step


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


def _loop_record(record, model, batches):
    """The calls of train_step in ``record`` (see :func:`_observed`) as data: per call, whether it
    trained the given ``model``, which optimizer (0 for the first object, 1 for the next new
    one...), the indices of the ``batches`` its inputs and targets equal, whether its state was
    None or the state the previous call returned, its max_norm and the loss it returned; the first
    optimizer (its type, learning rates, whether it holds exactly the model's parameters); the
    parameters before and after each call, and at the end."""
    calls, optimizers, found = record["calls"], [], []
    for i, (args, kwargs, value) in enumerate(calls):
        b = _step_args(args, kwargs)
        optimizer = b.get("optimizer")
        index = next((j for j, o in enumerate(optimizers) if o is optimizer), None)
        if index is None:
            optimizers.append(optimizer)
            index = len(optimizers) - 1
        before = calls[i - 1][2] if i else None
        previous = before[1] if isinstance(before, tuple) and len(before) > 1 else None
        found.append({"model": b.get("model") is model, "optimizer": index,
                      "batches": [k for k, (x, y) in enumerate(batches)
                                  if _same_tensor(b.get("inputs"), x) and _same_tensor(b.get("targets"), y)],
                      "state_none": b.get("state") is None, "state_follows": _same_tensor(b.get("state"), previous),
                      "max_norm": b.get("max_norm", np.nan),
                      "loss": value[0] if isinstance(value, tuple) and value else None})
    first = _step_args(calls[0][0], calls[0][1]).get("optimizer") if calls else None
    described = None
    if first is not None:
        groups = getattr(first, "param_groups", [])
        described = {"kind": type(first).__name__, "lr": [g.get("lr") for g in groups],
                     "owns_model": {id(p) for g in groups for p in g["params"]} == {id(p) for p in model.parameters()}}
    return {"calls": found, "optimizer": described, "params": [list(p) for p in record["params"]],
            "end": _params(model)}


def _outside_changes(loop, start):
    """[a problem] when the loop changed the model's parameters between its calls of train_step."""
    ends = [start] + [after for _, after in loop["params"]]
    for i, (before, _) in enumerate(loop["params"]):
        if not _close(before, ends[i], 0):
            return [f"it changed the model's parameters outside train_step (before step {i}): every update "
                    "belongs inside train_step"]
    if loop["params"] and not _close(loop["end"], ends[-1], 0):
        return ["it changed the model's parameters after its last train_step"]
    return []


def _loop_problems(loop, start, K, steps, lr, max_norm, returned):
    """What the loop did wrong, judged from its calls of train_step alone (``loop``, see
    :func:`_loop_record`; ``K`` batches): [] when it ran ``steps`` steps over the batches in order,
    with one Adam optimizer of learning rate ``lr``, the state carried from each batch to the next
    and None when the batches start again, ``max_norm`` passed on, and the losses of the calls
    returned."""
    problems, calls = _outside_changes(loop, start), loop["calls"]
    if len(calls) != steps:
        problems.append(f"it called `train_step` {len(calls)} times; expected one call per step, {steps} "
                        "(an off-by-one in the loop's range?)")
    first = loop["optimizer"]
    if first is not None:
        kind = first["kind"]
        if kind != "Adam":
            problems.append(f"its optimizer is torch.optim.{kind}; the task asks for torch.optim.Adam")
        group_lr = first["lr"]
        if group_lr and any(abs(float(v) - lr) > 1e-12 for v in group_lr):
            problems.append(f"its optimizer has the learning rate {group_lr[0]}; pass lr={lr} (the `lr` argument)")
        if not first["owns_model"]:
            problems.append("its optimizer does not hold the parameters of the model it trains: "
                            "torch.optim.Adam(model.parameters(), lr=lr)")
    optimizers = {c["optimizer"] for c in calls}
    if len(optimizers) > 1:
        problems.append(f"it created {len(optimizers)} optimizers, a new one at every step: Adam's running "
                        "averages of the gradients start from zero each time; create the optimizer once, "
                        "before the loop")
    for i, c in enumerate(calls[:steps]):
        if not c["model"]:
            problems.append(f"at step {i} it trained another model than the one given")
            break
        k = i % K
        if k not in c["batches"]:
            problems.append(f"at step {i} it did not use batch {k} (inputs and targets of batches[{k}]): take the "
                            "batches in order and start again at batch 0 after the last one")
            break
    for i, c in enumerate(calls[:steps]):
        if i % K == 0 and not c["state_none"]:
            problems.append(f"it keeps the state when the batches start again (step {i} runs batch 0 from a "
                            "carried state): after the last batch, restart from state None, since batch 0 does "
                            "not continue the end of the text")
            break
        if i % K and not c["state_follows"]:
            problems.append("it starts batch {} (step {}) from {}: carry the state returned by train_step to the "
                            "next batch, which continues the same streams".format(
                                i % K, i, "a zero state (None)" if c["state_none"] else "another state than the "
                                "one the previous step returned"))
            break
    norms = {float(c["max_norm"]) for c in calls}
    if calls and norms != {float(max_norm)}:
        problems.append(f"it passed max_norm {sorted(norms)} to train_step; pass on the `max_norm` argument ({max_norm})")
    step_losses = [c["loss"] for c in calls]
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
    data = dict(config=config, init=init, batches=batches, steps=steps, lr=lr, max_norm=max_norm)
    run = _run("train", (train_fn,), **data)
    if run["error"] is not None:  # train itself raised (not inside the student's train_step)
        _reraise(run["error"])
    if run["loop"] is None:  # no train_step of the student's to follow: the numbers alone
        got = _losses(run["returned"])
        judge.assert_close("losses", got, losses, axes=("step",), atol=1e-6, variants=dict(variants))
        judge.assert_close("the model's parameters after training", run["end"], params, atol=1e-6)
        return
    step_error = run["step_error"]
    if step_error is None:
        got = _losses(run["returned"])
        if got.shape == np.shape(losses) and _close(got, losses) and _close(run["end"], params):
            return
    # the loop alone, around a stand-in for train_step
    alone = _run("train_alone", (train_fn,), **data)
    if alone["returned"] is not None and alone["loop"]["calls"]:
        problems = _loop_problems(alone["loop"], run["start"], len(batches), steps, lr, max_norm, alone["returned"])
        if step_error is None:  # a stand-in computes no gradients: updates outside it show in the real run
            problems = _outside_changes(run["loop"], run["start"]) + problems
    elif step_error is None and run["loop"]["calls"]:
        problems = _loop_problems(run["loop"], run["start"], len(batches), steps, lr, max_norm, run["returned"])
    elif step_error is not None:
        _reraise(step_error[1])
    else:  # no call of train_step: the numbers alone
        judge.assert_close("losses", got, losses, axes=("step",), atol=1e-6, variants=dict(variants))
        judge.assert_close("the model's parameters after training", run["end"], params, atol=1e-6)
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


def _experiment_train(train_fn, *, config, init, batches, steps, lr, max_norm):
    """The student's train(model, batches, steps, lr, max_norm) on a float64 CharLM built from
    ``config`` and ``init``, with the student's own train_step recorded (:func:`_loop_record`,
    ``loop``: None when the notebook has no train_step). Returns the parameters at the start and
    end, what train returned, the exception train raised (``error``) or, when it came from inside
    train_step, ``step_error`` (call number, exception)."""
    batches = [(_sliced(x), _sliced(y)) for x, y in batches]
    scope = getattr(train_fn, "__globals__", None)
    own_step = scope.get("train_step") if isinstance(scope, dict) else None
    model = _model(config, init)
    found = {"start": _params(model), "returned": None, "error": None, "step_error": None, "loop": None}
    if not callable(own_step):
        try:
            found["returned"] = call(train_fn, model, batches, steps, lr, max_norm).value
        except Exception as exc:  # noqa: BLE001 (the verdict raises it)
            found["error"] = exc
        found["end"] = _params(model)
        return found
    record = {}
    with _as_train_step(scope, _observed(own_step, model, record)):
        try:
            found["returned"] = call(train_fn, model, batches, steps, lr, max_norm).value
        except Exception as exc:  # noqa: BLE001
            if record["error"] is None:
                found["error"] = exc
            else:
                found["step_error"] = record["error"]
    found["loop"] = _loop_record(record, model, batches)
    found["end"] = found["loop"]["end"]
    return found


def _experiment_train_alone(train_fn, *, config, init, batches, steps, lr, max_norm):
    """The student's train on a fresh float64 CharLM, around a stand-in for train_step (it changes
    nothing; call k returns the loss 0.5 + k and a state filled with k + 1): what train returned
    (None if it raised: the loop relies on what the student's own train_step returns) and its calls
    (:func:`_loop_record`)."""
    batches = [(_sliced(x), _sliced(y)) for x, y in batches]
    scope = train_fn.__globals__
    model, record = _model(config, init), {}
    with _as_train_step(scope, _observed(_stand_in((1, batches[0][0].shape[0], config["H"])), model, record)):
        try:
            returned = call(train_fn, model, batches, steps, lr, max_norm).value
        except Exception:  # noqa: BLE001
            returned = None
    return {"returned": returned, "loop": _loop_record(record, model, batches)}


def heldout(model, heldout_ids, *, max_bpc, unigram_bpc, chars):
    """The trained model's bits per character on the first ``chars`` held-out characters.

    The model's parameters are read (an experiment) and scored here, in a CharLM of the course's
    own, on the course's own held-out text (``heldout_ids`` is the notebook's copy of it)."""
    from .charmodel import bits_per_character, course_data

    found = _run("parameters", (model,))
    if not found["module"]:
        raise CheckFailed("`model` is not a trained torch model: run the training cell above first.")
    _, text, vocab = course_data()
    rebuilt = _charlm(found["state"], len(vocab))
    bpc = bits_per_character(rebuilt, vocab.encode(text[:chars + 1])[:chars])
    print(f"Held-out loss: {bpc:.3f} bits per character (needed: below {max_bpc}; "
          f"a unigram model scores {unigram_bpc}).")
    if not bpc < max_bpc:
        raise CheckFailed(
            f"The trained model scores {bpc:.3f} bits per character on held-out text; it should be below "
            f"{max_bpc} (character frequencies alone give {unigram_bpc}). "
            + ("It is worse than guessing from frequencies: did the training cell run (Exercises 1 to 3 "
               "done), and are the targets one character ahead of the inputs?" if bpc > unigram_bpc
               else "Check the batching and the training loop."))


_GATES = {1: "elman", 3: "gru", 4: "lstm"}


def _charlm(state, vocab_size):
    """A CharLM of the course's over ``vocab_size`` symbols with the parameters ``state`` ({name:
    array}); CheckFailed when they are not those of one. The shapes are checked before the model is
    built, so that its size is the size of the data received."""
    wrong = CheckFailed("`model` is not the course's CharLM (its parameters are not those of an embedding, one "
                        "recurrent layer and a linear map): keep the model the training cell built.")
    try:
        V, E = np.shape(state["embed.weight"])
        H = np.shape(state["out.weight"])[1]
        gates = np.shape(state["rnn.weight_ih_l0"])[0] // H
        cell = _GATES[gates]
    except (KeyError, ValueError, TypeError, IndexError, ZeroDivisionError):
        raise wrong from None
    shapes = {"embed.weight": (V, E), "rnn.weight_ih_l0": (gates * H, E), "rnn.weight_hh_l0": (gates * H, H),
              "rnn.bias_ih_l0": (gates * H,), "rnn.bias_hh_l0": (gates * H,), "out.weight": (V, H), "out.bias": (V,)}
    if set(state) != set(shapes) or any(np.shape(state[k]) != shape for k, shape in shapes.items()):
        raise wrong
    if V != vocab_size:
        raise CheckFailed(f"`model` reads {V} symbols; the course's text has {vocab_size} (len(vocab)): keep the "
                          "model the training cell built.")
    try:
        dtype = torch.as_tensor(np.asarray(state["embed.weight"])).dtype
        model = CharLM(V, cell, H, E).to(dtype)
        model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state.items()})
        return model
    except (KeyError, ValueError, TypeError, RuntimeError, AttributeError):
        raise wrong from None


def _experiment_parameters(model):
    """{"module": whether ``model`` is a torch module, "state": its parameters and buffers as arrays}."""
    if not isinstance(model, torch.nn.Module):
        return {"module": False}
    return {"module": True, "state": {str(k): v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}}


# ---------------------------------------------------------------------------------------------
# Exercise 4: temperature sampling.

def _indices(found, scores, temperature, draws):
    """The indices of an experiment's draws (see :func:`_experiment_draws`), or the CheckFailed that
    says why they are not indices."""
    if found.get("multinomial"):
        scores = np.asarray(scores, dtype=float)
        large = float(np.abs(scores).max()) / max(temperature, 1e-300) > 80
        if temperature == 0:
            why = "scores / 0 is infinite: return the argmax at temperature 0 before dividing"
        elif large:
            why = ("exp of large scores overflows: subtract the largest score first (torch.softmax does; "
                   f"these scores reach {float(np.abs(scores).max()):.4g})")
        else:
            why = ("torch.multinomial takes probabilities (>= 0), not scores or log-probabilities: turn the "
                   "scores into probabilities with a softmax first")
        raise CheckFailed(f"`sample_index` gave torch.multinomial probabilities with NaN, infinity or negative "
                          f"values at temperature {temperature}: {why}.")
    if len(found["values"]) != draws:
        raise CheckFailed(f"`sample_index` was called {len(found['values'])} times, not {draws} (the experiment's "
                          "record is incomplete).")
    indices = []
    for value in found["values"]:
        index = _index(value)
        if index is None:
            raise CheckFailed(f"`sample_index` should return one index (an int), got {value!r:.60}.")
        if not 0 <= index < len(scores):
            raise CheckFailed(f"`sample_index` returned {index}, outside 0 .. {len(scores) - 1}.")
        indices.append(index)
    return indices[0] if draws == 1 else indices


def _index(value):
    """int(value) for one value a sampler returned (a 1-element tensor counts), or None."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.reshape(())
    try:
        return int(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def _draw(sample_index, scores, temperature, seed, draws=1):
    """``draws`` indices from the student's sample_index(scores, temperature, generator), the
    generator a torch.Generator seeded with ``seed``."""
    found = _run("draws", (sample_index,), scores=np.asarray(scores), temperature=temperature, seed=int(seed),
                 draws=int(draws))
    return _indices(found, scores, temperature, draws)


def _experiment_draws(sample_index, *, scores, temperature, seed, draws, reseed=None):
    """``draws`` calls of the student's sample_index(scores, temperature, generator) (a fresh copy of
    the scores each time; one torch.Generator seeded with ``seed``): {"values": what it returned}, or
    {"multinomial": True} when torch.multinomial refused its probabilities. ``reseed``: first seed
    torch's and numpy's global random state with it."""
    if reseed is not None:
        torch.manual_seed(int(reseed))
        np.random.seed(int(reseed))
    scores = torch.as_tensor(np.asarray(scores))
    generator = torch.Generator().manual_seed(int(seed))
    try:
        found = calls(sample_index, [(scores.clone(), temperature, generator) for _ in range(draws)])
    except RuntimeError as exc:
        if "probability tensor contains" not in str(exc) and "invalid multinomial" not in str(exc):
            raise
        return {"multinomial": True}
    return {"values": [c.value if _index(c.value) is None else _index(c.value) for c in found]}


def sampler_greedy(sample_index, *, scores, expected):
    """Temperature 0 gives the argmax, for each stored score vector."""
    for s, want in zip(scores, expected):
        s = np.asarray(s)
        got = _draw(sample_index, s, 0.0, 0)
        if got != int(want):
            raise CheckFailed(f"At temperature 0 `sample_index` returned {got}, not the argmax {int(want)} of "
                              f"{np.round(s, 3).tolist()}. Temperature 0 is the limit T -> 0 of "
                              "softmax(scores / T): all the probability on the largest score; handle it before "
                              "dividing by T.")


def _chi2(counts, p):
    expected = np.asarray(p, dtype=float) * counts.sum()
    return float(np.sum((counts - expected) ** 2 / np.maximum(expected, 1e-12)))


def sampler_distribution(sample_index, *, cases, draws, chi2_limit):
    """For each case (scores, temperature, generator seed, target probabilities, the distributions of
    usual mistakes), ``draws`` draws on a seeded generator follow the target: a chi-square test."""
    for case in cases:
        scores = np.asarray(case["scores"])
        T, target = float(case["temperature"]), np.asarray(case["target"], dtype=float)
        counts = np.bincount(_draw(sample_index, scores, T, case["seed"], draws), minlength=len(scores)).astype(float)
        chi2 = _chi2(counts, target)
        if chi2 < chi2_limit:
            continue
        matched = [d for d, p in dict(case["candidates"]).items() if _chi2(counts, p) < chi2_limit]
        freq = np.round(counts / draws, 3).tolist()
        scale = f" (scores up to {float(np.abs(scores).max()):.4g})" if float(np.abs(scores).max()) > 50 else ""
        raise CheckFailed(
            (f"Your samples match {matched[0]}. " if matched else "")
            + f"At temperature {T}{scale}, {draws} draws gave the frequencies {freq}; softmax(scores / T) is "
            f"{np.round(target, 3).tolist()} (chi-square {chi2:.0f}, allowed {chi2_limit:.0f}).")


def sampler_reproducible(sample_index, *, scores, temperature, seeds, draws):
    """Reproducibility: ``draws`` draws from a generator seeded with seeds[0], twice (with the global
    random state of torch and numpy moved in between), give the same indices; seeded with seeds[1]
    they differ. The global random states are restored afterwards."""
    found = _run("reproducible", (sample_index,), scores=np.asarray(scores), temperature=float(temperature),
                 seeds=[int(s) for s in seeds], draws=int(draws))
    first, again, other = [_indices(run, scores, float(temperature), draws) for run in found["runs"]]
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


def _experiment_reproducible(sample_index, *, scores, temperature, seeds, draws):
    """Three runs of :func:`_experiment_draws`: seeds[0] with torch's and numpy's global random state
    seeded with seeds[0] + 1; seeds[0] again, the global state seeded with seeds[1] + 7; seeds[1].
    Stops after a run whose values are not all indices of the scores. The global random states are
    restored afterwards."""
    saved_torch, saved_numpy = torch.get_rng_state(), np.random.get_state()
    plan = ((seeds[0], seeds[0] + 1), (seeds[0], seeds[1] + 7), (seeds[1], None))
    runs = []
    try:
        for seed, reseed in plan:
            runs.append(_experiment_draws(sample_index, scores=scores, temperature=temperature, seed=seed,
                                          draws=draws, reseed=reseed))
            values = runs[-1].get("values")
            if values is None or not all(_index(v) is not None and 0 <= _index(v) < len(scores) for v in values):
                break
    finally:
        torch.set_rng_state(saved_torch)
        np.random.set_state(saved_numpy)
    return {"runs": runs}


# The experiments a verdict may ask for (rnn_course.experiment; in the grader, the kernel's Server
# runs no other function of this module). Read-only: the kernel's restore puts back the name, the
# functions and their code, not the contents of a table.
EXPERIMENTS = types.MappingProxyType({
    "batches": _experiment_batches, "train_step": _experiment_train_step, "train": _experiment_train,
    "train_alone": _experiment_train_alone, "parameters": _experiment_parameters, "draws": _experiment_draws,
    "reproducible": _experiment_reproducible})
