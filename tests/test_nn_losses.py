"""dlcore.nn losses against torch: value and gradient w.r.t. the prediction, float64."""

import numpy as np
import pytest
import torch

from dlcore import nn
from nn_helpers import assert_close


def check_loss(crit, twin, pred, target, torch_target=None, grad=1.0):
    pred_t = torch.tensor(pred, requires_grad=True)
    torch_target = torch.from_numpy(np.asarray(target)) if torch_target is None else torch_target
    loss = crit(pred, target)
    loss_t = twin(pred_t, torch_target)
    assert isinstance(loss, float)
    assert_close(loss, loss_t.item(), what="loss")
    (grad * loss_t).backward()
    assert_close(crit.backward(grad), pred_t.grad, what="gradient")


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("shape", [(4, 3), (1, 1), (2, 3, 4, 5)])
@pytest.mark.parametrize("grad", [1.0, 2.5])
def test_mse(shape, grad):
    check_loss(nn.MSELoss(), torch.nn.MSELoss(), rng().standard_normal(shape),
               rng(1).standard_normal(shape), grad=grad)


@pytest.mark.parametrize("n, c, scale", [(5, 4, 1.0), (1, 10, 1.0), (7, 2, 1.0),
                                         (6, 3, 1000.0)])  # huge logits: log-sum-exp
def test_cross_entropy(n, c, scale):
    logits = scale * rng().standard_normal((n, c))
    target = rng(1).integers(0, c, n)
    check_loss(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), logits, target)


@pytest.mark.parametrize("n, c", [(5, 4), (1, 3), (8, 1)])
def test_nll(n, c):
    log_probs = np.log(rng().dirichlet(np.ones(c), n))
    target = rng(1).integers(0, c, n)
    check_loss(nn.NLLLoss(), torch.nn.NLLLoss(), log_probs, target, grad=0.5)


def test_nll_after_log_softmax_equals_cross_entropy():
    logits, target = rng().standard_normal((6, 5)), rng(1).integers(0, 5, 6)
    log_softmax, nll, ce = nn.LogSoftmax(1), nn.NLLLoss(), nn.CrossEntropyLoss()
    assert np.isclose(nll(log_softmax(logits), target), ce(logits, target), rtol=1e-12)
    assert_close(log_softmax.backward(nll.backward()), ce.backward())


@pytest.mark.parametrize("shape, scale", [((4, 3), 1.0), ((7,), 1.0), ((2, 5), 200.0)])
def test_bce_with_logits(shape, scale):
    logits = scale * rng().standard_normal(shape)
    target = rng(1).uniform(size=shape)
    check_loss(nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), logits, target)


def test_loss_float32_gradient_stays_float32():
    crit = nn.CrossEntropyLoss()
    crit(np.zeros((3, 4), np.float32), np.array([0, 1, 3]))
    assert crit.backward().dtype == np.float32
