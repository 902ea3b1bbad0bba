"""Optimisers follow torch.optim's trajectory step by step, given the same gradients."""

import numpy as np
import pytest
import torch

from dlcore import nn
from nn_helpers import assert_close

STEPS = 7


def run_side_by_side(make_ours, make_theirs, shapes=((3, 4), (4,))):
    rng = np.random.default_rng(0)
    ours = [nn.Parameter(rng.standard_normal(s)) for s in shapes]
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    opt, opt_t = make_ours(ours), make_theirs(theirs)
    for step in range(STEPS):
        opt.zero_grad()
        for p, p_t in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad += g
            p_t.grad = torch.from_numpy(g.copy())
        opt.step()
        opt_t.step()
        for p, p_t in zip(ours, theirs):
            assert_close(p.data, p_t, what=f"step {step}")


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.1, momentum=0.8, dampening=0.3),
    dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1),
    dict(lr=0.02, momentum=0.7, weight_decay=0.05, nesterov=True),
]


@pytest.mark.parametrize("kw", SGD_CASES, ids=str)
def test_sgd(kw):
    run_side_by_side(lambda ps: nn.optim.SGD(ps, **kw), lambda ps: torch.optim.SGD(ps, **kw))


@pytest.mark.parametrize("kw", [dict(lr=0.01), dict(lr=0.01, momentum=0.9),
                                dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.1),
                                dict(lr=0.01, momentum=0.5, weight_decay=0.01)], ids=str)
def test_rmsprop(kw):
    run_side_by_side(lambda ps: nn.optim.RMSprop(ps, **kw),
                     lambda ps: torch.optim.RMSprop(ps, **kw))


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.01, betas=(0.8, 0.99)),
                                dict(lr=0.01, weight_decay=0.1, eps=1e-6)], ids=str)
def test_adam(kw):
    run_side_by_side(lambda ps: nn.optim.Adam(ps, **kw), lambda ps: torch.optim.Adam(ps, **kw))


@pytest.mark.parametrize("step_size, gamma", [(3, 0.1), (1, 0.5), (4, 0.9)])
def test_step_lr(step_size, gamma):
    p = nn.Parameter(np.zeros(2))
    opt = nn.optim.SGD([p], lr=0.3)
    sched = nn.optim.StepLR(opt, step_size, gamma)
    opt_t = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.3)
    sched_t = torch.optim.lr_scheduler.StepLR(opt_t, step_size, gamma)
    lrs, lrs_t = [sched.get_last_lr()], [sched_t.get_last_lr()]
    for _ in range(10):
        opt.step(), opt_t.step()
        sched.step(), sched_t.step()
        lrs.append(sched.get_last_lr())
        lrs_t.append(sched_t.get_last_lr())
    assert_close(lrs, lrs_t, rtol=1e-15)
    assert opt.lr == sched.get_last_lr()[0]


def test_optimizer_rejects_bad_parameters():
    with pytest.raises(ValueError, match="empty parameter list"):
        nn.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="expects Parameters.*ndarray"):
        nn.optim.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="Nesterov"):
        nn.optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1, nesterov=True)


def test_optimizer_steps_a_model_in_float32():
    model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.Tanh())
    opt = nn.optim.Adam(model.parameters(), lr=0.1)
    model.backward(np.ones_like(model(np.ones((2, 3), np.float32))))
    before = model[0].weight.data.copy()
    opt.step()
    assert model[0].weight.data.dtype == np.float32
    assert not np.array_equal(before, model[0].weight.data)
    opt.zero_grad()
    assert not model[0].weight.grad.any()
