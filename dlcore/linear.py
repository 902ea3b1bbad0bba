"""Linear classifiers of Chapter 1: Rosenblatt's perceptron and logistic regression (NumPy).

Both score an input with an affine function ``s(x) = w·x + b`` and differ in how they learn:
the perceptron corrects its mistakes one example at a time; logistic regression follows the
gradient of the cross-entropy of ``σ(s(x))``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Perceptron", "LogisticRegression", "sigmoid", "binary_cross_entropy"]


def _check_xy(X, y, n_features, labels):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"expected X of shape (N, {n_features}), got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"expected y of shape ({len(X)},), got {y.shape}")
    if not np.isin(y, labels).all():
        raise ValueError(f"expected labels in {labels}, got {np.unique(y)[:5]}")
    return X, y


class Perceptron:
    """Rosenblatt's perceptron with labels ±1.

    Predict ``sign(w·x + b)`` (0 counts as a mistake). On a mistake at ``(x, y)``:
    ``w ← w + lr·y·x`` and ``b ← b + lr·y``. On linearly separable data this stops after at
    most ``(R/γ)²`` updates (Novikoff), R the largest norm of ``(x, 1)``, γ the margin.
    """

    def __init__(self, n_features: int, lr: float = 1.0):
        self.weight = np.zeros(n_features)
        self.bias = 0.0
        self.lr = lr
        self.updates = 0

    def decision_function(self, X):
        """The scores s = X w + b, one per row."""
        return np.asarray(X, dtype=np.float64) @ self.weight + self.bias

    def predict(self, X):
        """The predicted labels, +1 where s > 0, else -1."""
        return np.where(self.decision_function(X) > 0, 1, -1)

    def fit(self, X, y, epochs: int = 100, seed: int | None = 0):
        """Sweep over the data (in a seeded random order) until an epoch makes no mistake.

        Returns the number of mistakes in each epoch.
        """
        X, y = _check_xy(X, y, len(self.weight), (-1, 1))
        rng = np.random.default_rng(seed)
        mistakes_per_epoch = []
        for _ in range(epochs):
            mistakes = 0
            order = rng.permutation(len(X)) if seed is not None else range(len(X))
            for i in order:  # the rule is online: one example at a time
                if y[i] * (X[i] @ self.weight + self.bias) <= 0:
                    self.weight += self.lr * y[i] * X[i]
                    self.bias += self.lr * y[i]
                    mistakes += 1
            self.updates += mistakes
            mistakes_per_epoch.append(mistakes)
            if mistakes == 0:
                break
        return mistakes_per_epoch


def sigmoid(z):
    """σ(z) = 1 / (1 + e^{-z}), computed without overflow for large ``|z|``."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def binary_cross_entropy(logits, y):
    """Mean of ``-[y log σ(s) + (1-y) log(1-σ(s))]`` from the scores ``s``, stably.

    Uses ``log(1 + e^s) - y·s``, with ``log(1 + e^s) = max(s, 0) + log1p(e^{-|s|})``.
    """
    s = np.asarray(logits, dtype=np.float64)
    return float(np.mean(np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s))) - y * s))


class LogisticRegression:
    """P(y=1 | x) = σ(w·x + b), labels 0/1, fitted by full-batch gradient descent.

    The gradient of the mean cross-entropy is ``∂J/∂w = Xᵀ(σ(Xw+b) − y)/N`` and
    ``∂J/∂b = mean(σ(Xw+b) − y)``: the prediction error, weighted by the inputs.
    """

    def __init__(self, n_features: int):
        self.weight = np.zeros(n_features)
        self.bias = 0.0

    def decision_function(self, X):
        """The scores (logits) s = X w + b, one per row."""
        return np.asarray(X, dtype=np.float64) @ self.weight + self.bias

    def predict_proba(self, X):
        """P(y = 1 | x) = σ(s), one per row."""
        return sigmoid(self.decision_function(X))

    def predict(self, X):
        """The predicted labels, 1 where σ(s) > 1/2, else 0."""
        return (self.decision_function(X) > 0).astype(np.int64)

    def loss(self, X, y):
        """The mean binary cross-entropy of the labels ``y`` (0/1)."""
        return binary_cross_entropy(self.decision_function(X), y)

    def gradient(self, X, y):
        """(∂J/∂w, ∂J/∂b) of the mean cross-entropy at the current parameters."""
        error = self.predict_proba(X) - y
        return X.T @ error / len(X), float(error.mean())

    def fit(self, X, y, lr: float = 0.1, epochs: int = 100):
        """Gradient descent; returns the loss before each step and after the last one."""
        X, y = _check_xy(X, y, len(self.weight), (0, 1))
        history = [self.loss(X, y)]
        for _ in range(epochs):
            dw, db = self.gradient(X, y)
            self.weight -= lr * dw
            self.bias -= lr * db
            history.append(self.loss(X, y))
        return history
