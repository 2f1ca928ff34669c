"""rnn_ref.analysis: Elman Jacobians against finite differences and torch autograd, norms, radii, LSTM cell path."""

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from rnn_ref.analysis import (
    cell_path_by_distance,
    elman_step_jacobians,
    jacobian_product,
    lstm_forget_gates,
    norms_by_distance,
    random_recurrent_matrix,
    spectral_radius,
    with_spectral_radius,
)
from rnn_ref.elman import elman_forward, elman_step_forward
from rnn_ref.gradcheck import numerical_gradient, rel_error
from rnn_ref.lstm import lstm_forward


def elman_run(seed, activation="tanh", scale=0.7):
    rng = np.random.default_rng(seed)
    N, T, D, H = (int(v) for v in rng.integers(1, 5, size=4))
    T += 1
    p = {"Wx": rng.standard_normal((D, H)) * scale, "Wh": rng.standard_normal((H, H)) * scale,
         "b": rng.standard_normal(H) * scale}
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)) * scale
    hs, _ = elman_forward(x, h0, p["Wx"], p["Wh"], p["b"], activation)
    return x, h0, p, hs


def torch_steps(x, p, n, k, t, activation):
    """h_k -> h_t for sequence n as a torch function (steps k+1 ... t)."""
    act = torch.tanh if activation == "tanh" else torch.relu
    Wx, Wh, b = (torch.from_numpy(p[name]) for name in ("Wx", "Wh", "b"))
    xs = torch.from_numpy(x[n])

    def run(h):
        for s in range(k + 1, t + 1):
            h = act(xs[s - 1] @ Wx + h @ Wh + b)
        return h
    return run


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("seed", range(3))
def test_step_jacobians_match_torch_autograd(seed, activation):
    x, h0, p, hs = elman_run(seed, activation)
    J = elman_step_jacobians(hs, p["Wh"], activation)
    N, T, H = hs.shape
    h_prevs = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    for n in range(N):
        for t in range(1, T + 1):
            J_t = jacobian(torch_steps(x, p, n, t - 1, t, activation), torch.from_numpy(h_prevs[n, t - 1]))
            assert rel_error(J[n, t - 1], J_t.numpy()) < 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_step_jacobian_matches_finite_differences_column_by_column(seed):
    x, h0, p, hs = elman_run(seed)
    J = elman_step_jacobians(hs, p["Wh"])
    N, T, H = hs.shape
    h_prevs = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    t = T - 1
    for i in range(H):  # row i of dh_t/dh_{t-1}: the gradient of h_t[i] with respect to h_{t-1}
        def h_i(h_prev):
            return np.sum(elman_step_forward(x[:, t], h_prev, p["Wx"], p["Wh"], p["b"])[0][:, i])
        numeric = numerical_gradient(h_i, h_prevs[:, t], order=4)  # (N, H): rows of each sequence's Jacobian
        assert rel_error(J[:, t, i, :], numeric) < 1e-7


@pytest.mark.parametrize("seed", range(3))
def test_products_match_torch_over_every_distance(seed):
    x, h0, p, hs = elman_run(seed)
    J = elman_step_jacobians(hs, p["Wh"])
    N, T, H = hs.shape
    states = np.concatenate([h0[:, None], hs], axis=1)  # h_0 ... h_T
    n = N - 1
    for k in range(T + 1):
        for t in range(k, T + 1):
            P_t = jacobian(torch_steps(x, p, n, k, t, "tanh"), torch.from_numpy(states[n, k]))
            assert rel_error(jacobian_product(J, t, k)[n], P_t.numpy()) < 1e-12


@pytest.mark.parametrize("norm", ["spectral", "fro"])
@pytest.mark.parametrize("seed", range(3))
def test_norms_by_distance_are_the_norms_of_the_products(seed, norm):
    x, h0, p, hs = elman_run(seed)
    J = elman_step_jacobians(hs, p["Wh"])
    T = hs.shape[1]
    norms = norms_by_distance(J, norm)
    ord_ = 2 if norm == "spectral" else "fro"
    for d in range(T + 1):
        expected = np.linalg.norm(jacobian_product(J, T, T - d), ord=ord_, axis=(1, 2))
        assert rel_error(norms[:, d], expected) < 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_norms_are_bounded_by_powers_of_the_largest_singular_value(seed):
    """|tanh'| <= 1, so ||dh_T/dh_{T-d}||_2 <= ||Wh||_2^d: they vanish when ||Wh||_2 < 1."""
    rng = np.random.default_rng(seed)
    H, T = 6, 30
    for radius in (0.5, 0.9, 1.5):
        Wh = random_recurrent_matrix(H, radius, rng)
        x = rng.standard_normal((2, T, 3))
        hs, _ = elman_forward(x, np.zeros((2, H)), rng.standard_normal((3, H)), Wh, np.zeros(H))
        norms = norms_by_distance(elman_step_jacobians(hs, Wh))
        sigma = np.linalg.norm(Wh, 2)
        assert np.all(norms <= sigma ** np.arange(T + 1) * (1 + 1e-12))


def test_spectral_radius_and_rescaling():
    rng = np.random.default_rng(0)
    for H in (1, 3, 8):
        W = rng.standard_normal((H, H))
        assert spectral_radius(W) == pytest.approx(np.max(np.abs(np.linalg.eigvals(W))), rel=1e-14)
        for radius in (0.3, 1.0, 2.5):
            assert spectral_radius(with_spectral_radius(W, radius)) == pytest.approx(radius, rel=1e-10)
    rotation = np.array([[0.0, -2.0], [2.0, 0.0]])  # eigenvalues +-2i
    assert spectral_radius(rotation) == pytest.approx(2.0)
    a, b = random_recurrent_matrix(5, 0.9, 7), random_recurrent_matrix(5, 0.9, np.random.default_rng(7))
    assert np.array_equal(a, b) and spectral_radius(a) == pytest.approx(0.9, rel=1e-10)
    W = rng.standard_normal((4, 4))
    copy = W.copy()
    with_spectral_radius(W, 2.0)
    assert np.array_equal(W, copy)


def test_powers_of_Wh_grow_or_shrink_with_the_spectral_radius():
    """Without the nonlinearity J = Wh^T: the norm of its d-th power tends to rho^d."""
    rng = np.random.default_rng(1)
    H, T = 5, 200
    for radius in (0.8, 1.2):
        Wh = random_recurrent_matrix(H, radius, rng)
        hs = np.zeros((1, T, H))  # tanh'(0) = 1: every Jacobian is exactly Wh^T
        norms = norms_by_distance(elman_step_jacobians(hs, Wh))[0]
        rate = (norms[-1] / norms[T // 2]) ** (1 / (T - T // 2))
        assert rate == pytest.approx(radius, rel=0.02)


@pytest.mark.parametrize("seed", range(3))
def test_lstm_cell_path_is_the_product_of_forget_gates_torch_lstmcell(seed):
    """With each h_{t-1} held at its forward value, dc_T/dc_k of torch's LSTMCell is diag(prod f)."""
    rng = np.random.default_rng(seed)
    N, T, D, H = (int(v) for v in rng.integers(1, 4, size=4))
    T += 2
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H)
    hs, _ = lstm_forward(x, h0, Wx, Wh, b, c0)
    f = lstm_forget_gates(x, h0, Wx, Wh, b, hs)
    path = cell_path_by_distance(f)
    assert path.shape == (N, T + 1, H) and np.all(path[:, 0] == 1)

    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(Wx.T))
        cell.weight_hh.copy_(torch.from_numpy(Wh.T))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.zero_()
    h_prevs = torch.from_numpy(np.concatenate([h0[:, None], hs[:, :-1]], axis=1))
    with torch.no_grad():  # the forward cell states, to start the chain from c_k
        c, cs = torch.from_numpy(c0), [torch.from_numpy(c0)]
        for t in range(T):
            c = cell(torch.from_numpy(x[:, t]), (h_prevs[:, t], c))[1]
            cs.append(c)
    for d in range(T + 1):
        k = T - d

        def c_T(c_k):
            c = c_k
            for t in range(k, T):
                c = cell(torch.from_numpy(x[:, t]), (h_prevs[:, t], c))[1]
            return c

        J = jacobian(c_T, cs[k]).numpy()  # (N, H, N, H)
        expected = np.einsum("nh,nm,hg->nhmg", path[:, d], np.eye(N), np.eye(H))
        assert rel_error(J, expected) < 1e-12


@pytest.mark.parametrize("call, message", [
    (lambda: elman_step_jacobians(np.zeros((2, 3, 4)), np.zeros((3, 3))), r"Wh has shape \(3, 3\), expected \(4, 4\)"),
    (lambda: jacobian_product(np.zeros((1, 3, 2, 2)), 2, 3), "need 0 <= k <= t <= T=3"),
    (lambda: jacobian_product(np.zeros((1, 3, 2, 2)), 4, 0), "need 0 <= k <= t <= T=3"),
    (lambda: norms_by_distance(np.zeros((1, 3, 2, 2)), "max"), "norm must be"),
    (lambda: spectral_radius(np.zeros((2, 3))), r"W has shape \(2, 3\), expected \(2, 2\)"),
    (lambda: with_spectral_radius(np.zeros((2, 2)), 1.0), "spectral radius 0"),
    (lambda: lstm_forget_gates(np.zeros((1, 2, 3)), np.zeros((1, 2)), np.zeros((3, 8)), np.zeros((2, 8)),
                               np.zeros(8), np.zeros((1, 3, 2))), r"x has shape"),
])
def test_bad_arguments_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
