"""dlcore.linear: the perceptron rule and logistic regression, against theory and torch autograd."""

import numpy as np
import pytest
import torch

from dlcore.linear import LogisticRegression, Perceptron, binary_cross_entropy, sigmoid


def separable(n=200, seed=0, margin=0.2):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(4 * n, 2))
    s = X @ np.array([1.0, 2.0]) - 0.5
    X, s = X[np.abs(s) > margin][:n], s[np.abs(s) > margin][:n]
    return X, np.where(s > 0, 1, -1)


def test_perceptron_converges_within_novikoff_bound():
    X, y = separable()
    p = Perceptron(2)
    mistakes = p.fit(X, y, epochs=1000)
    assert mistakes[-1] == 0 and mistakes[0] > 0
    assert np.array_equal(p.predict(X), y)
    u = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    Xt = np.c_[X, np.ones(len(X))]
    gamma, R = np.min(y * (Xt @ u)), np.max(np.linalg.norm(Xt, axis=1))
    assert p.updates == sum(mistakes) <= (R / gamma) ** 2


def test_perceptron_update_is_the_rule():
    p = Perceptron(3, lr=0.5)
    p.fit(np.array([[1.0, 2.0, 3.0]]), np.array([-1]), epochs=1)
    # score 0 is a mistake: w <- w + lr*y*x, b <- b + lr*y
    assert np.array_equal(p.weight, [-0.5, -1.0, -1.5]) and p.bias == -0.5


def test_perceptron_never_settles_on_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    p = Perceptron(2)
    assert min(p.fit(X, np.array([-1, 1, 1, -1]), epochs=50)) > 0


def test_perceptron_checks_input():
    p = Perceptron(2)
    with pytest.raises(ValueError, match=r"expected X of shape \(N, 2\), got \(4, 3\)"):
        p.fit(np.zeros((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"expected labels in \(-1, 1\)"):
        p.fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"expected y of shape \(4,\), got \(4, 1\)"):
        p.fit(np.zeros((4, 2)), np.ones((4, 1)))


def test_sigmoid_is_stable_and_correct():
    z = np.array([-1000.0, -30.0, 0.0, 2.0, 1000.0])
    with np.errstate(over="raise"):
        s = sigmoid(z)
    assert np.allclose(s, torch.sigmoid(torch.tensor(z)).numpy(), rtol=1e-15, atol=0)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5


def test_logistic_loss_and_gradient_match_torch_autograd():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(17, 4)), rng.integers(0, 2, size=17)
    m = LogisticRegression(4)
    m.weight, m.bias = rng.normal(size=4) * 3, -0.7
    w = torch.tensor(m.weight, requires_grad=True)
    b = torch.tensor(m.bias, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(X) @ w + b,
                                                               torch.tensor(y, dtype=torch.float64))
    loss.backward()
    dw, db = m.gradient(X, y)
    assert m.loss(X, y) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(dw, w.grad.numpy(), rtol=1e-10)
    assert db == pytest.approx(b.grad.item(), rel=1e-10)


def test_bce_is_finite_for_huge_scores():
    assert binary_cross_entropy(np.array([1e4, -1e4]), np.array([1, 0])) == 0.0
    assert binary_cross_entropy(np.array([1e4]), np.array([0])) == pytest.approx(1e4)


def test_logistic_regression_gradient_descent_decreases_loss_and_separates():
    X, y = separable(seed=1)
    m = LogisticRegression(2)
    hist = m.fit(X, (y > 0).astype(int), lr=1.0, epochs=200)
    assert hist[0] == pytest.approx(np.log(2)) and np.all(np.diff(hist) < 0)
    assert np.mean(m.predict(X) == (y > 0)) > 0.97
    with pytest.raises(ValueError, match=r"expected labels in \(0, 1\)"):
        m.fit(X, y)
