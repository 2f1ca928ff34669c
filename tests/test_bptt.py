"""rnn_ref.bptt: full and truncated BPTT against finite differences and torch autograd."""

import numpy as np
import pytest
import torch

from rnn_ref.bptt import full_bptt, truncated_bptt
from rnn_ref.elman import elman_forward
from rnn_ref.gradcheck import numerical_gradient, rel_error
from rnn_ref.layers import temporal_affine_forward, temporal_softmax_loss

NAMES = ("Wx", "Wh", "b", "Wy", "by")


def random_problem(seed, T=None):
    rng = np.random.default_rng(seed)
    N, D, H, K = (int(v) for v in rng.integers(1, 4, size=4))
    K += 1
    T = T or int(rng.integers(3, 8))
    params = {"Wx": rng.standard_normal((D, H)) * 0.5, "Wh": rng.standard_normal((H, H)) * 0.5,
              "b": rng.standard_normal(H) * 0.5, "Wy": rng.standard_normal((H, K)) * 0.5,
              "by": rng.standard_normal(K) * 0.5}
    x = rng.standard_normal((N, T, D))
    y = rng.integers(0, K, size=(N, T))
    h0 = rng.standard_normal((N, H)) * 0.5
    return params, x, y, h0


def model_loss(params, x, y, h0):
    """The model's loss from its forward pass alone (what finite differences probe)."""
    hs, _ = elman_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    return temporal_softmax_loss(temporal_affine_forward(hs, params["Wy"], params["by"])[0], y)[0]


def gradient_by_differences(loss_of_params, params, name):
    return numerical_gradient(lambda v: loss_of_params({**params, name: v}), params[name], order=4)


def torch_loss(params, x, y, h0, k):
    """The same model in torch, the state detached every k steps (k >= T: full BPTT)."""
    p = {name: torch.tensor(v, requires_grad=True) for name, v in params.items()}
    h, loss = torch.from_numpy(h0), 0.0
    for t in range(x.shape[1]):
        if t % k == 0:
            h = h.detach()
        h = torch.tanh(torch.from_numpy(x[:, t]) @ p["Wx"] + h @ p["Wh"] + p["b"])
        scores = h @ p["Wy"] + p["by"]
        loss = loss + torch.nn.functional.cross_entropy(scores, torch.from_numpy(y[:, t]), reduction="sum")
    loss = loss / x.shape[0]
    loss.backward()
    return loss.item(), {name: v.grad.numpy() for name, v in p.items()}, h.detach().numpy()


@pytest.mark.parametrize("seed", range(3))
def test_full_bptt_matches_finite_differences_and_torch(seed):
    params, x, y, h0 = random_problem(seed)
    loss, grads, h_last = full_bptt(params, x, y, h0)
    assert loss == pytest.approx(model_loss(params, x, y, h0), rel=1e-14)
    for name in NAMES:
        numeric = gradient_by_differences(lambda p: model_loss(p, x, y, h0), params, name)
        assert rel_error(grads[name], numeric) < 1e-7, name
    loss_t, grads_t, h_t = torch_loss(params, x, y, h0, k=x.shape[1])
    assert abs(loss - loss_t) < 1e-12 * max(1.0, loss)
    assert rel_error(h_last, h_t) < 1e-12
    for name in NAMES:
        assert rel_error(grads[name], grads_t[name]) < 1e-10, name


@pytest.mark.parametrize("seed", range(3))
def test_truncated_with_window_at_least_T_is_full_bptt(seed):
    params, x, y, h0 = random_problem(seed)
    loss, grads, h_last = full_bptt(params, x, y, h0)
    T = x.shape[1]
    for k in (T, T + 3):
        loss_k, grads_k, h_k = truncated_bptt(params, x, y, h0, k)
        assert loss_k == loss and np.array_equal(h_k, h_last)
        assert all(np.array_equal(grads_k[name], grads[name]) for name in NAMES)


@pytest.mark.parametrize("seed", range(3))
def test_truncated_gradient_is_the_gradient_of_chunk_losses_with_carried_state_held_constant(seed):
    params, x, y, h0 = random_problem(seed, T=7)
    hs, _ = elman_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    for k in (1, 2, 3):
        loss, grads, _ = truncated_bptt(params, x, y, h0, k)
        starts = range(0, x.shape[1], k)
        # the state entering each chunk, computed once with the given params and then frozen
        carried = [h0] + [hs[:, s - 1] for s in starts[1:]]

        def chunk_losses(p):
            return sum(model_loss(p, x[:, s:s + k], y[:, s:s + k], h) for s, h in zip(starts, carried))

        assert loss == pytest.approx(chunk_losses(params), rel=1e-14)
        for name in NAMES:
            numeric = gradient_by_differences(chunk_losses, params, name)
            assert rel_error(grads[name], numeric) < 1e-7, (k, name)
        _, grads_t, _ = torch_loss(params, x, y, h0, k)
        for name in NAMES:
            assert rel_error(grads[name], grads_t[name]) < 1e-10, (k, name)
        _, full_grads, _ = full_bptt(params, x, y, h0)
        assert rel_error(grads["Wh"], full_grads["Wh"]) > 1e-6  # truncation really drops terms


@pytest.mark.parametrize("seed", range(3))
def test_carried_state_and_loss_equal_the_full_forward(seed):
    params, x, y, h0 = random_problem(seed, T=9)
    hs, _ = elman_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    full_loss = model_loss(params, x, y, h0)
    for k in range(1, 10):
        loss, _, h_last = truncated_bptt(params, x, y, h0, k)
        assert rel_error(h_last, hs[:, -1]) < 1e-14
        assert loss == pytest.approx(full_loss, rel=1e-13)


def test_nothing_is_mutated_and_float32_stays_float32():
    params, x, y, h0 = random_problem(4)
    copies = ({n: v.copy() for n, v in params.items()}, x.copy(), y.copy(), h0.copy())
    truncated_bptt(params, x, y, h0, 2)
    for name in NAMES:
        assert np.array_equal(params[name], copies[0][name])
    assert np.array_equal(x, copies[1]) and np.array_equal(y, copies[2]) and np.array_equal(h0, copies[3])
    p32 = {n: v.astype(np.float32) for n, v in params.items()}
    _, grads, h = truncated_bptt(p32, x.astype(np.float32), y, h0.astype(np.float32), 2)
    assert h.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("k", [0, -1, 1.5, None])
def test_bad_window_raises(k):
    params, x, y, h0 = random_problem(0)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        truncated_bptt(params, x, y, h0, k)


def test_bad_targets_shape_raises():
    params, x, y, h0 = random_problem(0)
    with pytest.raises(ValueError, match="y has shape"):
        truncated_bptt(params, x, y[:, :-1], h0, 2)
