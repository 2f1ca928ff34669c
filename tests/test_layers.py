"""rnn_ref.layers against finite differences and torch: embedding, temporal affine, loss, clipping."""

import numpy as np
import pytest
import torch

from rnn_ref.gradcheck import check_layer_gradients, numerical_gradient, rel_error
from rnn_ref.layers import (
    clip_by_value,
    clip_global_norm,
    embedding_backward,
    embedding_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
)

SEEDS = range(4)


def random_sizes(rng):
    return [int(v) for v in rng.integers(1, 5, size=4)]


@pytest.mark.parametrize("seed", SEEDS)
def test_embedding_matches_torch_and_accumulates_repeated_tokens(seed):
    rng = np.random.default_rng(seed)
    N, T, D, V = random_sizes(rng)
    V += 1
    idx = rng.integers(0, V, size=(N, T))
    idx[0, 0] = idx[-1, -1]  # at least one repeated token when N*T > 1
    W = rng.standard_normal((V, D))
    dout = rng.standard_normal((N, T, D))
    out, cache = embedding_forward(idx, W)
    dW = embedding_backward(dout, cache)

    emb = torch.nn.Embedding(V, D, dtype=torch.float64)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(W))
    out_t = emb(torch.from_numpy(idx))
    out_t.backward(torch.from_numpy(dout))
    assert np.array_equal(out, out_t.detach().numpy())
    assert rel_error(dW, emb.weight.grad.numpy()) < 1e-12
    numeric = numerical_gradient(lambda w: np.sum(embedding_forward(idx, w)[0] * dout), W, order=4)
    assert rel_error(dW, numeric) < 1e-7


@pytest.mark.parametrize("seed", SEEDS)
def test_temporal_affine_finite_differences_and_torch(seed):
    rng = np.random.default_rng(seed)
    N, T, H, K = random_sizes(rng)
    x, W, b = rng.standard_normal((N, T, H)), rng.standard_normal((H, K)), rng.standard_normal(K)
    dout = rng.standard_normal((N, T, K))
    errors = check_layer_gradients(temporal_affine_forward, temporal_affine_backward, [x, W, b], dout)
    assert max(errors) < 1e-7, errors

    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    out_t = xt @ Wt + bt
    out_t.backward(torch.from_numpy(dout))
    out, cache = temporal_affine_forward(x, W, b)
    assert rel_error(out, out_t.detach().numpy()) < 1e-12
    for ours, theirs in zip(temporal_affine_backward(dout, cache), (xt, Wt, bt)):
        assert rel_error(ours, theirs.grad.numpy()) < 1e-12


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_loss_sums_over_unmasked_steps_and_averages_over_batch(seed):
    rng = np.random.default_rng(seed)
    N, T, K, _ = random_sizes(rng)
    K += 1
    scores = rng.standard_normal((N, T, K)) * 3
    targets = rng.integers(0, K, size=(N, T))
    mask = rng.random((N, T)) < 0.7
    mask[0, 0] = True
    targets[~mask] = -100  # masked steps may hold anything, e.g. torch's ignore_index
    loss, dscores = temporal_softmax_loss(scores, targets, mask)

    st = torch.tensor(scores, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(
        st.reshape(N * T, K), torch.from_numpy(targets).reshape(-1), ignore_index=-100, reduction="sum"
    ) / N
    loss_t.backward()
    assert abs(loss - loss_t.item()) < 1e-12 * max(1.0, abs(loss))
    assert rel_error(dscores, st.grad.numpy()) < 1e-12
    assert np.all(dscores[~mask] == 0)

    # scores of order one: probabilities near 1e-6 would have gradient entries below round-off
    mild = scores / 3
    numeric = numerical_gradient(lambda s: temporal_softmax_loss(s, targets, mask)[0], mild, order=4)
    assert rel_error(temporal_softmax_loss(mild, targets, mask)[1], numeric) < 1e-7
    # per-token mean (whose exp is the perplexity) is torch's default reduction
    mean_t = torch.nn.functional.cross_entropy(
        st.detach().reshape(N * T, K), torch.from_numpy(targets).reshape(-1), ignore_index=-100)
    assert abs(loss * N / mask.sum() - mean_t.item()) < 1e-12 * max(1.0, abs(loss))


def test_softmax_loss_without_mask_counts_every_step_and_is_stable():
    scores = np.array([[[1000.0, 0.0], [0.0, 1000.0]]])
    loss, dscores = temporal_softmax_loss(scores, np.array([[0, 0]]))
    assert loss == pytest.approx(1000.0)  # first step is certain and right, second certain and wrong
    assert np.allclose(dscores, [[[0.0, 0.0], [-1.0, 1.0]]])


def test_softmax_loss_float32_stays_float32():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 3, 4)).astype(np.float32)
    _, dscores = temporal_softmax_loss(scores, rng.integers(0, 4, size=(2, 3)))
    assert dscores.dtype == np.float32


@pytest.mark.parametrize("seed", SEEDS)
def test_clip_global_norm_matches_torch_and_never_mutates(seed):
    rng = np.random.default_rng(seed)
    grads = {name: rng.standard_normal(tuple(rng.integers(1, 4, size=k))) for k, name in enumerate("abc", 1)}
    before = {k: v.copy() for k, v in grads.items()}
    total = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    for max_norm in (total / 3, total * 3):
        clipped, norm = clip_global_norm(grads, max_norm)
        tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
        for t, g in zip(tensors, grads.values()):
            t.grad = torch.from_numpy(g.copy())
        norm_t = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
        assert abs(norm - norm_t.item()) < 1e-12 * total
        for t, name in zip(tensors, grads):
            assert rel_error(clipped[name], t.grad.numpy()) < 1e-12
            assert clipped[name] is not grads[name]
        new_norm = np.sqrt(sum(np.sum(g * g) for g in clipped.values()))
        assert new_norm <= max_norm * (1 + 1e-12)
    for name in grads:
        assert np.array_equal(grads[name], before[name])


def test_clip_by_value_matches_torch_and_never_mutates():
    rng = np.random.default_rng(5)
    grads = {"W": rng.standard_normal((3, 4)) * 4, "b": rng.standard_normal(4) * 4}
    before = {k: v.copy() for k, v in grads.items()}
    clipped = clip_by_value(grads, 1.5)
    for name, g in grads.items():
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_value_([t], 1.5)
        assert np.array_equal(clipped[name], t.grad.numpy())
        assert np.array_equal(g, before[name])


def test_inputs_and_upstream_gradients_are_not_mutated():
    rng = np.random.default_rng(7)
    x, W, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((2, 3, 5))
    copies = [a.copy() for a in (x, W, b, dout)]
    _, cache = temporal_affine_forward(x, W, b)
    temporal_affine_backward(dout, cache)
    idx = rng.integers(0, 4, size=(2, 3))
    E, de = rng.standard_normal((4, 6)), rng.standard_normal((2, 3, 6))
    ecopies = [idx.copy(), E.copy(), de.copy()]
    embedding_backward(de, embedding_forward(idx, E)[1])
    scores, targets = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, size=(2, 3))
    scopy = scores.copy()
    temporal_softmax_loss(scores, targets)
    for a, c in zip((x, W, b, dout, idx, E, de, scores), copies + ecopies + [scopy]):
        assert np.array_equal(a, c)


@pytest.mark.parametrize("call, message", [
    (lambda: embedding_forward(np.array([[0, 4]]), np.zeros((4, 2))), "idx has entries outside"),
    (lambda: embedding_forward(np.zeros((1, 2)), np.zeros((4, 2))), "idx must hold integers"),
    (lambda: embedding_forward(np.zeros(2, dtype=int), np.zeros((4, 2))), r"idx has shape \(2,\)"),
    (lambda: temporal_affine_forward(np.zeros((1, 2, 3)), np.zeros((4, 5)), np.zeros(5)),
     r"x has shape \(1, 2, 3\), expected \(\*, \*, 4\)"),
    (lambda: temporal_affine_forward(np.zeros((1, 2, 4)), np.zeros((4, 5)), np.zeros(4)), r"b has shape \(4,\)"),
    (lambda: temporal_softmax_loss(np.zeros((1, 2, 3)), np.zeros((1, 3), dtype=int)), "targets has shape"),
    (lambda: temporal_softmax_loss(np.zeros((1, 2, 3)), np.array([[0, 3]])), "targets .* outside"),
    (lambda: temporal_softmax_loss(np.zeros((1, 2, 3)), np.zeros((1, 2), dtype=int), np.ones((2, 1))),
     "mask has shape"),
    (lambda: clip_global_norm([np.zeros(2)], 1.0), "grads must be a dict"),
    (lambda: clip_global_norm({"a": np.zeros(2)}, 0.0), "max_norm must be positive"),
])
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
