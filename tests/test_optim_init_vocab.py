"""rnn_ref.optim against torch.optim, rnn_ref.init's guarantees, rnn_ref.vocab round trips."""

import numpy as np
import pytest
import torch

from rnn_ref.analysis import spectral_radius
from rnn_ref.gradcheck import rel_error
from rnn_ref.init import cell_params, identity, orthogonal, xavier_uniform
from rnn_ref.layers import embedding_forward
from rnn_ref.optim import SGD, Adam
from rnn_ref.torch_interop import to_torch_gru, to_torch_lstm, to_torch_rnn
from rnn_ref.vocab import UNK, Vocabulary, one_hot


def run_both(make_ours, make_torch, seed, steps=6):
    """Apply the same gradients for several steps with our optimiser and torch's; return both params."""
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    tensors = {name: torch.tensor(v, requires_grad=True) for name, v in params.items()}
    ours, theirs = make_ours(), make_torch(list(tensors.values()))
    for _ in range(steps):
        grads = {name: rng.standard_normal(v.shape) for name, v in params.items()}
        copies = {name: g.copy() for name, g in grads.items()}
        ours.step(params, grads)
        assert all(np.array_equal(grads[n], copies[n]) for n in grads)  # gradients only read
        for name, t in tensors.items():
            t.grad = torch.from_numpy(grads[name])
        theirs.step()
    return params, {name: t.detach().numpy() for name, t in tensors.items()}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(seed, momentum):
    ours, theirs = run_both(lambda: SGD(0.1, momentum), lambda p: torch.optim.SGD(p, lr=0.1, momentum=momentum), seed)
    for name in ours:
        assert rel_error(ours[name], theirs[name]) < 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_adam_matches_torch(seed):
    ours, theirs = run_both(lambda: Adam(0.01, (0.8, 0.99), 1e-6),
                            lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6), seed)
    for name in ours:
        assert rel_error(ours[name], theirs[name]) < 1e-12


def test_optimisers_update_in_place_keep_float32_and_check_names():
    params = {"W": np.ones((2, 2), dtype=np.float32)}
    W = params["W"]
    for opt in (SGD(0.5, 0.9), Adam()):
        opt.step(params, {"W": np.ones((2, 2), dtype=np.float32)})
        assert params["W"] is W and W.dtype == np.float32
        with pytest.raises(ValueError, match=r"grads has names \['V'\]"):
            opt.step(params, {"V": np.ones(2)})
        with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(2,\)"):
            opt.step(params, {"W": np.ones(2)})
    with pytest.raises(ValueError, match="need lr > 0"):
        SGD(0.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(betas=(0.9, 1.0))


def test_optimisers_minimise_a_quadratic():
    for opt in (SGD(0.1), SGD(0.05, 0.9), Adam(0.1)):
        params = {"w": np.array([3.0, -2.0])}
        for _ in range(500):
            opt.step(params, {"w": 2 * params["w"]})
        assert np.abs(params["w"]).max() < 1e-3


@pytest.mark.parametrize("shape", [(5, 5), (7, 3), (3, 7), (1, 4)])
def test_orthogonal_has_orthonormal_rows_or_columns_and_is_seeded(shape):
    Q = orthogonal(shape, 0, gain=2.0)
    assert Q.shape == shape
    small = Q.T @ Q if shape[0] >= shape[1] else Q @ Q.T
    assert np.allclose(small, 4.0 * np.eye(min(shape)), atol=1e-12)
    assert np.allclose(np.linalg.svd(Q, compute_uv=False), 2.0)
    assert np.array_equal(Q, orthogonal(shape, np.random.default_rng(0), gain=2.0))
    assert not np.array_equal(Q, orthogonal(shape, 1, gain=2.0))


def test_xavier_uniform_bounds_variance_and_seed():
    W = xavier_uniform((300, 200), 0)
    a = np.sqrt(6 / 500)
    assert np.abs(W).max() <= a and np.abs(W).max() > 0.99 * a
    assert W.var() == pytest.approx(2 / 500, rel=0.03)
    assert np.array_equal(W, xavier_uniform((300, 200), 0))


def test_identity_and_cell_params():
    assert np.array_equal(identity(3, 0.5), 0.5 * np.eye(3))
    rng = np.random.default_rng(0)
    D, H, N = 3, 4, 2
    x, h0 = rng.standard_normal((N, 5, D)), np.zeros((1, N, H))
    for cell, to_torch, keys in (("elman", to_torch_rnn, {"Wx", "Wh", "b"}), ("lstm", to_torch_lstm, {"Wx", "Wh", "b"}),
                                 ("gru", to_torch_gru, {"Wx", "Wh", "bx", "bh"})):
        p = cell_params(cell, D, H, 1)
        assert set(p) == keys
        G = p["Wh"].shape[1] // H
        assert p["Wx"].shape == (D, G * H) and p["Wh"].shape == (H, G * H)
        for g in range(G):  # each recurrent gate block orthogonal: spectral radius 1
            assert spectral_radius(p["Wh"][:, g * H:(g + 1) * H]) == pytest.approx(1.0)
        assert np.array_equal(p["Wx"], cell_params(cell, D, H, 1)["Wx"])
        to_torch(p)(torch.from_numpy(x))  # the dict maps to torch as it is
    assert np.array_equal(cell_params("lstm", D, H, 1)["b"], np.repeat([0.0, 1.0, 0.0, 0.0], H))
    with pytest.raises(ValueError, match="cell must be one of"):
        cell_params("rnn", D, H, 1)


def test_vocabulary_round_trip_and_unknown_characters():
    vocab = Vocabulary.from_text("hello world")
    assert vocab.tokens == [UNK, " ", "d", "e", "h", "l", "o", "r", "w"] and len(vocab) == 9
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64 and ids.tolist() == [4, 3, 5, 5, 6]
    assert vocab.decode(ids) == "hello"
    assert vocab.encode("help!").tolist() == [4, 3, 5, 0, 0]
    assert vocab.decode(vocab.encode("help!")) == "hel<UNK><UNK>"
    assert vocab.decode([]) == "" and vocab.encode("").shape == (0,)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 9\)"):
        vocab.decode([9])


def test_one_hot_is_the_embedding_lookup():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 6, size=(3, 4))
    X = one_hot(ids, 6)
    assert X.shape == (3, 4, 6) and np.all(X.sum(axis=-1) == 1) and np.all(X.argmax(axis=-1) == ids)
    W = rng.standard_normal((6, 5))
    assert np.array_equal(X @ W, embedding_forward(ids, W)[0])
    assert one_hot(ids, 6, np.float32).dtype == np.float32
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 6\)"):
        one_hot(np.array([6]), 6)
    with pytest.raises(ValueError, match="ids must hold integers"):
        one_hot(np.array([0.0]), 6)
