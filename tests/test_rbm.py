"""The restricted Boltzmann machine of Chapter 5: NumPy (dlcore.nn.RBM) and PyTorch
(dlcore.models.RBM) against brute-force enumeration, against each other given the same random
numbers, against scikit-learn's BernoulliRBM, and the deep belief network built from them."""

import itertools

import numpy as np
import pytest
import torch

from dlcore import nn, train
from dlcore.models import DBN, RBM as TorchRBM
from dlcore.models import contrastive_divergence as torch_cd
from dlcore.models.autoencoder import Autoencoder
from dlcore.nn.rbm import all_binary_states, contrastive_divergence as numpy_cd
from dlcore.twins import to_torch

F64 = np.float64


def tiny(nv=4, nh=3, scale=1.0, seed=0):
    """A NumPy RBM with weights and biases large enough that the distribution is far from
    uniform, and its float64 torch twin with the same parameters."""
    rbm = nn.RBM(nv, nh, dtype=F64, rng=seed)
    r = np.random.default_rng(seed + 100)
    rbm.weight.data[...] = scale * r.standard_normal((nh, nv))
    rbm.visible_bias.data[...] = scale * r.standard_normal(nv)
    rbm.hidden_bias.data[...] = scale * r.standard_normal(nh)
    twin = TorchRBM(nv, nh).double()
    to_torch(rbm, twin)
    return rbm, twin


def joint_table(rbm):
    """P(v, h) over every pair of binary states, by brute force: exp(-E) / Σ exp(-E)."""
    V, H = all_binary_states(rbm.n_visible), all_binary_states(rbm.n_hidden)
    pairs = [(v, h) for v in V for h in H]
    vs, hs = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    e = rbm.energy(vs, hs)
    p = np.exp(-e - np.max(-e))
    return (p / p.sum()).reshape(len(V), len(H)), V, H, e


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# --------------------------------------------------------------------------- the model


def test_all_binary_states_counts_in_order():
    s = all_binary_states(3)
    assert s.shape == (8, 3)
    assert s.tolist()[:4] == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1]]
    assert {tuple(r) for r in s} == set(itertools.product([0, 1], repeat=3))
    assert np.array_equal(all_binary_states(5), torch_all_states(5))


def torch_all_states(n):
    from dlcore.models.rbm import all_binary_states as t_states
    return t_states(n).detach().numpy()


def test_energy_is_the_formula():
    rbm, twin = tiny()
    r = np.random.default_rng(1)
    v, h = (r.random((5, 4)) < 0.5).astype(F64), (r.random((5, 3)) < 0.5).astype(F64)
    W, b, c = rbm.weight.data, rbm.visible_bias.data, rbm.hidden_bias.data
    expected = np.array([-b @ v[n] - c @ h[n] - h[n] @ W @ v[n] for n in range(5)])
    np.testing.assert_allclose(rbm.energy(v, h), expected, rtol=1e-12)
    np.testing.assert_allclose(twin.energy(torch.from_numpy(v), torch.from_numpy(h)).detach().numpy(),
                               expected, rtol=1e-12)


def test_conditionals_factorise_and_are_sigmoids_by_enumeration():
    rbm, twin = tiny()
    P, V, H, _ = joint_table(rbm)
    W, b, c = rbm.weight.data, rbm.visible_bias.data, rbm.hidden_bias.data
    # P(h | v) from the joint table, for every v and h
    p_h_given_v = P / P.sum(axis=1, keepdims=True)
    q = sigmoid(V @ W.T + c)  # P(h_j = 1 | v), per v
    product = np.prod(np.where(H[None, :, :] == 1, q[:, None, :], 1 - q[:, None, :]), axis=2)
    np.testing.assert_allclose(p_h_given_v, product, rtol=1e-10)
    np.testing.assert_allclose(rbm.hidden_probabilities(V), q, rtol=1e-12)
    np.testing.assert_allclose(twin.hidden_mean(torch.from_numpy(V)).detach().numpy(), q, rtol=1e-12)
    # P(v | h), the same way round
    p_v_given_h = P / P.sum(axis=0, keepdims=True)
    r = sigmoid(H @ W + b)
    product = np.prod(np.where(V[:, None, :] == 1, r[None, :, :], 1 - r[None, :, :]), axis=2)
    np.testing.assert_allclose(p_v_given_h, product, rtol=1e-10)
    np.testing.assert_allclose(rbm.visible_probabilities(H), r, rtol=1e-12)
    np.testing.assert_allclose(twin.visible_probabilities(torch.from_numpy(H)).detach().numpy(), r,
                               rtol=1e-12)


def test_free_energy_is_minus_log_sum_over_h_of_exp_minus_energy():
    rbm, twin = tiny()
    V, H = all_binary_states(4), all_binary_states(3)
    expected = np.array([-np.log(np.exp(-rbm.energy(np.repeat(v[None], len(H), 0), H)).sum())
                         for v in V])
    np.testing.assert_allclose(rbm.free_energy(V), expected, rtol=1e-12)
    np.testing.assert_allclose(twin.free_energy(torch.from_numpy(V)).detach().numpy(), expected,
                               rtol=1e-12)


def test_gaussian_hidden_free_energy_by_quadrature():
    torch.manual_seed(0)
    rbm = TorchRBM(3, 1, hidden="gaussian").double()
    with torch.no_grad():
        rbm.weight.copy_(torch.tensor([[0.7, -1.2, 0.4]]))
        rbm.visible_bias.copy_(torch.tensor([0.3, -0.5, 0.1]))
        rbm.hidden_bias.fill_(0.2)
    grid = np.linspace(-40, 40, 400_001)
    for v in all_binary_states(3):
        vt = torch.from_numpy(np.repeat(v[None], len(grid), 0))
        e = rbm.energy(vt, torch.from_numpy(grid[:, None])).detach().numpy()
        integral = np.trapezoid(np.exp(-e), grid)
        constant = 0.5 * np.log(2 * np.pi)  # the one the free energy leaves out
        assert rbm.free_energy(vt[:1]).item() == pytest.approx(-np.log(integral) + constant,
                                                               abs=1e-8)


@pytest.mark.parametrize("nv, nh", [(4, 3), (3, 5)])  # both enumeration branches
def test_log_partition_and_log_likelihood_are_exact(nv, nh):
    rbm, twin = tiny(nv, nh)
    _, V, H, e = joint_table(rbm)
    log_z = np.log(np.exp(-e).sum())
    assert rbm.log_partition() == pytest.approx(log_z, abs=1e-10)
    assert twin.log_partition() == pytest.approx(log_z, abs=1e-10)
    p_v = np.exp(-rbm.free_energy(V) - log_z)
    assert p_v.sum() == pytest.approx(1.0, abs=1e-12)
    data = V[[0, 3, 3, 5]]
    expected = np.mean(np.log(p_v[[0, 3, 3, 5]]))
    assert rbm.log_likelihood(data) == pytest.approx(expected, abs=1e-10)
    assert twin.log_likelihood(torch.from_numpy(data)) == pytest.approx(expected, abs=1e-10)


def test_float32_rbm_works_in_float32():
    rbm = nn.RBM(6, 4, rng=0)
    v = (np.random.default_rng(0).random((5, 6)) < 0.5).astype(np.float32)
    assert rbm.hidden_probabilities(v).dtype == np.float32
    assert rbm.free_energy(v).dtype == np.float32
    value, recon = rbm.contrastive_divergence(v)
    assert recon.dtype == np.float32 and rbm.weight.grad.dtype == np.float32
    assert isinstance(rbm.log_partition(), float)


# --------------------------------------------------------------------------- learning


def exact_gradient(rbm, data):
    """The gradient of the mean negative log-likelihood, by enumeration over every v."""
    V = all_binary_states(rbm.n_visible)
    log_z = rbm.log_partition()
    p_v = np.exp(-rbm.free_energy(V) - log_z)
    q_data, q_model = rbm.hidden_probabilities(data), rbm.hidden_probabilities(V)
    grad_w = (q_model.T * p_v) @ V - q_data.T @ data / len(data)
    grad_b = p_v @ V - data.mean(0)
    grad_c = p_v @ q_model - q_data.mean(0)
    return np.concatenate([grad_w.ravel(), grad_b, grad_c])


BARS = np.array([[float(r == i) for r in range(3) for _ in range(3)] for i in range(3)]
                + [[float(c == i) for _ in range(3) for c in range(3)] for i in range(3)])


@pytest.mark.parametrize("nv, nh", [(5, 3), (3, 6)])  # both enumeration branches
def test_exact_gradient_is_the_gradient_of_the_exact_likelihood(nv, nh):
    rbm, _ = tiny(nv, nh, scale=0.8, seed=9)
    data = all_binary_states(nv)[[0, 2, 5, 5, 7]]
    rbm.zero_grad()
    nll = rbm.exact_gradient(data)
    assert nll == pytest.approx(-rbm.log_likelihood(data), abs=1e-12)
    for p in rbm.parameters():
        numeric = nn.numerical_gradient(lambda: -rbm.log_likelihood(data), p.data)
        np.testing.assert_allclose(p.grad, numeric, rtol=0, atol=1e-7)
    np.testing.assert_allclose(rbm.weight.grad.ravel(), exact_gradient(rbm, data)[:nv * nh],
                               rtol=0, atol=1e-12)


def test_cd_gradient_points_the_way_of_the_exact_gradient():
    rbm, _ = tiny(9, 6, scale=0.5, seed=3)
    data = np.repeat(BARS, 400, axis=0)  # many chains: the CD-1 estimate's average
    exact = exact_gradient(rbm, data)
    rbm.zero_grad()
    rbm.contrastive_divergence(data, k=1)
    cd = np.concatenate([p.grad.ravel() for p in rbm.parameters()])
    cosine = cd @ exact / np.linalg.norm(cd) / np.linalg.norm(exact)
    assert cosine > 0.8


def test_cd_objective_gradient_is_the_exact_gradient_when_the_chain_samples_the_model():
    # with v_k drawn exactly from the model (by enumeration), E[grad of F(v0) - F(v_k)] is
    # the exact gradient: the free-energy form of the update is the right one
    rbm, _ = tiny(5, 3, scale=0.7, seed=4)
    V = all_binary_states(5)
    data = V[[1, 7, 12, 30]]
    p_v = np.exp(-rbm.free_energy(V) - rbm.log_partition())
    q = rbm.hidden_probabilities
    model_w = (q(V).T * p_v) @ V
    grad_w = model_w - q(data).T @ data / len(data)
    np.testing.assert_allclose(exact_gradient(rbm, data)[:15], grad_w.ravel(), rtol=1e-12)


def test_exact_likelihood_rises_under_cd_training():
    rbm = nn.RBM(9, 8, dtype=F64, rng=0)
    sgd = nn.optim.SGD(rbm.parameters(), lr=0.5, momentum=0.5)
    data = np.repeat(BARS, 10, axis=0)
    curve = [rbm.log_likelihood(BARS)]
    for _ in range(300):
        sgd.zero_grad()
        rbm.contrastive_divergence(data, k=1)
        sgd.step()
        curve.append(rbm.log_likelihood(BARS))
    assert curve[0] == pytest.approx(-9 * np.log(2), abs=0.05)  # near uniform at the start
    assert curve[-1] > curve[0] + 3.5  # the best possible is -log 6: 4.45 above the start
    assert np.mean(curve[-50:]) > np.mean(curve[100:150]) > np.mean(curve[:50])


@pytest.mark.parametrize("k, persistent, weight_decay", [(1, False, 0.0), (3, False, 0.01),
                                                         (2, True, 0.001)])
def test_numpy_and_torch_make_the_same_updates_from_the_same_random_numbers(
        k, persistent, weight_decay):
    rbm, twin = tiny(7, 5, scale=0.5, seed=1)
    r = np.random.default_rng(5)
    sgd = nn.optim.SGD(rbm.parameters(), lr=0.05, momentum=0.9)
    sgd_t = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    for step in range(3):
        v0 = (r.random((6, 7)) < 0.4).astype(F64)
        noise = (r.random((k, 6, 5)), r.random((k, 6, 7)))
        sgd.zero_grad()
        value, recon = rbm.contrastive_divergence(v0, k, persistent, noise, weight_decay)
        sgd_t.zero_grad()
        objective, recon_t = twin.cd_objective(torch.from_numpy(v0), k, persistent,
                                               tuple(map(torch.from_numpy, noise)),
                                               weight_decay)
        objective.backward()
        assert value == pytest.approx(objective.item(), abs=1e-12)
        np.testing.assert_allclose(recon, recon_t.detach().numpy(), rtol=0, atol=1e-12)
        for name, p in rbm.named_parameters():
            np.testing.assert_allclose(p.grad, dict(twin.named_parameters())[name].grad.numpy(),
                                       rtol=0, atol=1e-12, err_msg=name)
        sgd.step()
        sgd_t.step()
    if persistent:
        np.testing.assert_array_equal(rbm.chain, twin.chain.numpy())
    for name, value in twin.state_dict().items():
        np.testing.assert_allclose(rbm.state_dict()[name], value.numpy(), atol=1e-12)


def test_the_cd_update_is_the_textbook_one():
    rbm, _ = tiny(6, 4, seed=2)
    r = np.random.default_rng(0)
    v0 = (r.random((5, 6)) < 0.5).astype(F64)
    noise = (r.random((1, 5, 4)), r.random((1, 5, 6)))
    rbm.zero_grad()
    rbm.contrastive_divergence(v0, 1, noise=noise)
    W, b, c = rbm.weight.data, rbm.visible_bias.data, rbm.hidden_bias.data
    p0 = sigmoid(v0 @ W.T + c)
    h0 = (p0 > noise[0][0]).astype(F64)
    v1 = (sigmoid(h0 @ W + b) > noise[1][0]).astype(F64)
    p1 = sigmoid(v1 @ W.T + c)
    positive, negative = p0.T @ v0 / 5, p1.T @ v1 / 5
    np.testing.assert_allclose(-rbm.weight.grad, positive - negative, atol=1e-12)
    np.testing.assert_allclose(-rbm.visible_bias.grad, (v0 - v1).mean(0), atol=1e-12)
    np.testing.assert_allclose(-rbm.hidden_bias.grad, (p0 - p1).mean(0), atol=1e-12)


def test_gibbs_matches_between_twins_and_samples_are_binary():
    rbm, twin = tiny(6, 4)
    r = np.random.default_rng(3)
    v = (r.random((3, 6)) < 0.5).astype(F64)
    noise = (r.random((4, 3, 4)), r.random((4, 3, 6)))
    ours = rbm.gibbs(v, 4, noise)
    theirs = twin.gibbs(torch.from_numpy(v), 4, tuple(map(torch.from_numpy, noise)))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-12)
    assert set(np.unique(ours[0])) <= {0.0, 1.0}


def test_gibbs_chain_samples_the_model_distribution():
    rbm, _ = tiny(3, 2, scale=1.0, seed=6)
    V = all_binary_states(3)
    p_v = np.exp(-rbm.free_energy(V) - rbm.log_partition())
    v = np.zeros((20_000, 3))
    v, _, _ = rbm.gibbs(v, 30)
    codes = (v @ np.array([4, 2, 1])).astype(int)
    freq = np.bincount(codes, minlength=8) / len(v)
    np.testing.assert_allclose(freq, p_v, atol=0.015)


def test_fit_numpy_and_fit_train_rbms_with_reconstruction_error_as_metric():
    r = np.random.default_rng(0)
    patterns = np.repeat(BARS, 50, axis=0)
    for engine in ("numpy", "torch"):
        if engine == "numpy":
            rbm = nn.RBM(9, 6, dtype=F64, rng=0)
            opt = nn.optim.SGD(rbm.parameters(), lr=0.5, momentum=0.5)
            history = train.fit_numpy(rbm, opt, [(patterns[r.permutation(300)],)] * 20,
                                      loss=numpy_cd(1), epochs=6,
                                      metrics=[train.reconstruction_error], progress=False)
        else:
            torch.manual_seed(0)
            rbm = TorchRBM(9, 6).double()
            opt = torch.optim.SGD(rbm.parameters(), lr=0.5, momentum=0.5)
            batches = [(torch.from_numpy(patterns[r.permutation(300)]),)] * 20
            history = train.fit(rbm, opt, batches, loss=torch_cd(1), epochs=6,
                                metrics=[train.reconstruction_error], progress=False)
        errors = history["train reconstruction_error"]
        assert errors[-1] < 0.5 * errors[0], (engine, errors)
        assert "train loss" in history and len(history["train loss"]) == 6


def test_persistent_chain_persists_and_resets():
    rbm = nn.RBM(5, 3, dtype=F64, rng=0)
    v = (np.random.default_rng(0).random((4, 5)) < 0.5).astype(F64)
    assert rbm.chain is None
    rbm.contrastive_divergence(v, persistent=True)
    first = rbm.chain.copy()
    rbm.contrastive_divergence(v, persistent=True)
    assert rbm.chain.shape == (4, 5) and not np.shares_memory(rbm.chain, first)
    rbm.reset_chain()
    assert rbm.chain is None


def test_init_visible_bias_is_the_log_odds_of_the_means():
    rbm = nn.RBM(3, 2, dtype=F64, rng=0)
    data = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    rbm.init_visible_bias(data)
    np.testing.assert_allclose(rbm.visible_bias.data,
                               [np.log(3), np.log(1e-3 / (1 - 1e-3)), np.log(3)])
    twin = TorchRBM(3, 2).double()
    twin.init_visible_bias(torch.from_numpy(data))
    np.testing.assert_allclose(twin.visible_bias.detach().detach().numpy(), rbm.visible_bias.data)


def test_reconstruction_error_monitor():
    rbm, twin = tiny(5, 3)
    v = (np.random.default_rng(2).random((6, 5)) < 0.5).astype(F64)
    r = sigmoid(sigmoid(v @ rbm.weight.data.T + rbm.hidden_bias.data) @ rbm.weight.data
                + rbm.visible_bias.data)
    expected = ((v - r) ** 2).sum(1).mean()
    assert rbm.reconstruction_error(v) == pytest.approx(expected, rel=1e-12)
    assert twin.reconstruction_error(torch.from_numpy(v)) == pytest.approx(expected, rel=1e-12)
    assert train.reconstruction_error(r, (v,)) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- the peer


def test_free_energy_and_pseudo_likelihood_equal_scikit_learns():
    from sklearn.neural_network import BernoulliRBM

    rbm, twin = tiny(12, 7, scale=0.3, seed=8)
    peer = BernoulliRBM(n_components=7, random_state=11)
    peer.components_ = rbm.weight.data.copy()
    peer.intercept_visible_ = rbm.visible_bias.data.copy()
    peer.intercept_hidden_ = rbm.hidden_bias.data.copy()
    peer.n_features_in_ = 12
    v = (np.random.default_rng(4).random((50, 12)) < 0.3).astype(F64)
    np.testing.assert_allclose(rbm.free_energy(v), peer._free_energy(v), rtol=1e-12)
    np.testing.assert_allclose(twin.free_energy(torch.from_numpy(v)).detach().numpy(),
                               peer._free_energy(v), rtol=1e-12)
    index = np.random.RandomState(11).randint(0, 12, 50)  # the flips score_samples draws
    theirs = peer.score_samples(v)
    np.testing.assert_allclose(rbm.pseudo_likelihood(v, index), theirs, rtol=1e-10)
    np.testing.assert_allclose(twin.pseudo_likelihood(torch.from_numpy(v), index).detach().numpy(),
                               theirs, rtol=1e-10)
    np.testing.assert_allclose(peer.transform(v), rbm.hidden_probabilities(v), rtol=1e-12)


# --------------------------------------------------------------------------- errors


def test_bad_inputs_are_refused_clearly():
    rbm, twin = tiny(4, 3)
    grey = np.full((2, 4), 0.5)
    with pytest.raises(ValueError, match="needs binary inputs.*0.5"):
        rbm.pseudo_likelihood(grey)
    with pytest.raises(ValueError, match="needs binary inputs"):
        rbm.log_likelihood(grey)
    with pytest.raises(ValueError, match="needs binary inputs"):
        twin.log_likelihood(torch.from_numpy(grey))
    with pytest.raises(ValueError, match="expects 4 visible units"):
        rbm.free_energy(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"expects visible vectors of shape \(N, 4\)"):
        twin.free_energy(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="2-D input"):
        rbm.hidden_probabilities(np.zeros(4))
    with pytest.raises(TypeError, match="float32 input"):
        rbm.free_energy(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="floating-point array"):
        rbm.free_energy(np.zeros((2, 4), int))
    with pytest.raises(ValueError, match=r"noise must have shape \(2, 3\)"):
        rbm.sample_h(np.zeros((2, 4)), noise=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"noise must have shape \(1, 2, 3\)"):
        rbm.contrastive_divergence(np.zeros((2, 4)), 1, noise=(np.zeros((1, 3, 3)),
                                                               np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match="k must be >= 1"):
        rbm.gibbs(np.zeros((2, 4)), k=0)
    with pytest.raises(ValueError, match="weight_decay must be in"):
        rbm.contrastive_divergence(np.zeros((2, 4)), weight_decay=-1)
    with pytest.raises(ValueError, match="at most 20 units"):
        nn.RBM(30, 25).log_partition()
    with pytest.raises(ValueError, match="at most 20 units"):
        TorchRBM(30, 25).log_partition()
    with pytest.raises(ValueError, match="only for binary hidden units"):
        TorchRBM(3, 2, hidden="gaussian").log_partition()
    with pytest.raises(ValueError, match="hidden must be"):
        TorchRBM(3, 2, hidden="relu")
    with pytest.raises(TypeError, match="n_hidden must be an int"):
        nn.RBM(3, 2.0)
    with pytest.raises(TypeError, match="trains a dlcore.nn.RBM"):
        numpy_cd()(nn.Linear(3, 2), (np.zeros((2, 3), np.float32),))
    with pytest.raises(ValueError, match="index must be 2 integers"):
        rbm.pseudo_likelihood(np.zeros((2, 4)), index=np.array([0.0, 1.0]))


# --------------------------------------------------------------------------- the DBN


def test_dbn_pretrains_greedily_on_the_layer_below_and_unrolls():
    torch.manual_seed(0)
    dbn = DBN([12, 8, 5, 2], top="gaussian")
    assert [type(m).__name__ for m in dbn.rbms] == ["RBM"] * 3
    assert [r.hidden for r in dbn.rbms] == ["bernoulli", "bernoulli", "gaussian"]
    data = (torch.rand(40, 12) < 0.5).float()
    calls = []

    def train_layer(i, rbm, inputs):
        calls.append((i, tuple(inputs.shape)))
        with torch.no_grad():
            rbm.weight.add_(0.1 * torch.randn_like(rbm.weight))

    seen = dbn.pretrain(data, train_layer)
    assert calls == [(0, (40, 12)), (1, (40, 8)), (2, (40, 5))]
    torch.testing.assert_close(seen[1], dbn.rbms[0].hidden_mean(data).detach())
    deep = dbn.unroll()
    assert isinstance(deep, Autoencoder) and deep.sizes == [12, 8, 5, 2]
    with torch.no_grad():
        torch.testing.assert_close(deep.encode(data), dbn(data))
        # the decoder runs the RBMs' downward passes in reverse order
        h = dbn(data)
        for rbm in reversed(dbn.rbms):
            h = rbm.visible_probabilities(h)
        torch.testing.assert_close(deep(data), h)
    classifier = DBN([12, 8, 5]).classifier(3)
    assert classifier(data).shape == (40, 3)
    below_top = dbn.classifier(3, depth=2)  # 12-8-5 sigmoid layers, then 3 scores
    assert [m.out_features for m in below_top if isinstance(m, torch.nn.Linear)] == [8, 5, 3]
    torch.testing.assert_close(below_top[2].weight, dbn.rbms[1].weight)
    with pytest.raises(ValueError, match="top='bernoulli'"):
        dbn.classifier(3)
    with pytest.raises(ValueError, match="depth must be in 1..3"):
        dbn.classifier(3, depth=0)
    with pytest.raises(ValueError, match="at least two positive ints"):
        DBN([12])


def test_dbn_recognition_weights_are_copies():
    dbn = DBN([6, 4, 3])
    clf = dbn.classifier(2)
    with torch.no_grad():
        clf[0].weight.add_(1.0)
    assert not torch.equal(clf[0].weight, dbn.rbms[0].weight)
    torch.testing.assert_close(clf[2].weight, dbn.rbms[1].weight)
