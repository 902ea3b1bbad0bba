"""Module mechanics: parameter names, train/eval, gradient accumulation, the cache, imports,
and a small MLP trained side by side with torch."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from dlcore import nn
from nn_helpers import assert_close, copy_params_to_torch


def small_cnn(dtype=np.float64):
    return nn.Sequential(nn.Conv2d(1, 2, 3, dtype=dtype, rng=0), nn.BatchNorm2d(2, dtype=dtype),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5, rng=0),
                         nn.Linear(8, 3, dtype=dtype, rng=1))


def torch_small_cnn():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Dropout(0.5),
                               torch.nn.Linear(8, 3))


def test_parameter_names_and_shapes_match_torch():
    twin, ours = torch_small_cnn(), small_cnn()
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in twin.named_parameters()]
    assert len(list(ours.parameters())) == 6
    nested = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    nested_t = torch.nn.Sequential(torch.nn.Linear(2, 3),
                                   torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1)))
    assert [n for n, _ in nested.named_parameters()] == \
           [n for n, _ in nested_t.named_parameters()] == ["0.weight", "0.bias", "1.1.weight",
                                                           "1.1.bias"]


def test_sequential_is_indexable_and_sized():
    model = small_cnn()
    assert len(model) == 7
    assert isinstance(model[0], nn.Conv2d) and isinstance(model[-1], nn.Linear)
    head = model[4:]
    assert isinstance(head, nn.Sequential) and len(head) == 3
    assert [type(m) for m in model][:2] == [nn.Conv2d, nn.BatchNorm2d]
    assert "(6): Linear(in_features=8, out_features=3, bias=True)" in repr(model)


def test_train_and_eval_reach_every_child():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert model.eval() is model
    assert not any(m.training for m in (model, model[1], model[1][0], model[1][1]))
    model.train()
    assert all(m.training for m in (model, model[1], model[1][0], model[1][1]))


def test_backward_accumulates_parameter_gradients():
    layer = nn.Linear(3, 2, dtype=np.float64, rng=0)
    x, g = np.ones((4, 3)), np.ones((4, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    assert_close(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


@pytest.mark.parametrize("layer", [nn.Linear(2, 2), nn.Conv2d(1, 1, 1), nn.ReLU(), nn.MaxPool2d(1),
                                   nn.BatchNorm1d(2), nn.Dropout(), nn.Sequential(nn.Tanh())])
def test_backward_without_forward_is_a_clear_error(layer):
    with pytest.raises(RuntimeError, match=r"backward\(\) called without a forward\(\)"):
        layer.backward(np.ones((2, 2), np.float32))


def test_backward_twice_needs_a_new_forward():
    layer = nn.Conv2d(1, 1, 2, dtype=np.float64)
    y = layer(np.ones((1, 1, 3, 3)))
    layer.backward(np.ones_like(y))
    with pytest.raises(RuntimeError, match="call forward"):
        layer.backward(np.ones_like(y))


def test_loss_backward_without_forward():
    with pytest.raises(RuntimeError, match="CrossEntropyLoss"):
        nn.CrossEntropyLoss().backward()


def test_seeded_construction_is_reproducible():
    np.random.seed(3)
    a = nn.Conv2d(3, 4, 3)
    np.random.seed(3)
    b = nn.Conv2d(3, 4, 3)
    assert np.array_equal(a.weight.data, b.weight.data)
    assert np.array_equal(nn.Linear(5, 2, rng=9).weight.data, nn.Linear(5, 2, rng=9).weight.data)
    assert a.weight.dtype == np.float32


def test_dlcore_nn_does_not_import_torch():
    code = "import sys, dlcore.nn; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mlp_training_matches_torch():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    model = nn.Sequential(nn.Linear(5, 8, dtype=np.float64, rng=0), nn.Tanh(),
                          nn.Linear(8, 3, dtype=np.float64, rng=1))
    twin = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 3)).double()
    copy_params_to_torch(model, twin)
    crit, crit_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt = nn.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    opt_t = torch.optim.SGD(twin.parameters(), lr=0.5, momentum=0.9)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    losses, losses_t = [], []
    for _ in range(6):
        opt.zero_grad()
        losses.append(crit(model(x), y))
        model.backward(crit.backward())
        opt.step()
        opt_t.zero_grad()
        loss_t = crit_t(twin(x_t), y_t)
        loss_t.backward()
        opt_t.step()
        losses_t.append(loss_t.item())
    assert_close(losses, losses_t)
    assert losses[-1] < losses[0] - 0.1  # it did learn
    for name, p in twin.named_parameters():
        assert_close(dict(model.named_parameters())[name].data, p, what=name)


def test_cnn_forward_backward_matches_torch_end_to_end():
    model, twin = small_cnn(), torch_small_cnn().double()
    model[5].eval(), twin[5].eval()  # dropout off, batchnorm in training mode
    copy_params_to_torch(model, twin)
    x = np.random.default_rng(0).standard_normal((3, 1, 6, 6))
    x_t = torch.tensor(x, requires_grad=True)
    out, out_t = model(x), twin(x_t)
    assert_close(out, out_t)
    g = np.random.default_rng(1).standard_normal(out.shape)
    out_t.backward(torch.from_numpy(g))
    assert_close(model.backward(g), x_t.grad)
    for name, p in twin.named_parameters():
        assert_close(dict(model.named_parameters())[name].grad, p.grad, what=name)


@pytest.mark.parametrize("make_first, x_shape, features", [
    (lambda: nn.Linear(6, 4, dtype=np.float64, rng=0), (2, 6), 4),
    (lambda: nn.Conv2d(1, 2, 3, dtype=np.float64, rng=0), (2, 1, 4, 4), 8),
])
def test_first_layer_can_skip_the_input_gradient(make_first, x_shape, features):
    model = nn.Sequential(make_first(), nn.Flatten(), nn.Tanh(),
                          nn.Linear(features, 1, dtype=np.float64, rng=1))
    x = np.random.default_rng(0).standard_normal(x_shape)
    model.backward(np.ones_like(model(x)))
    full = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model[0].needs_input_grad = False
    assert model.backward(np.ones_like(model(x))) is None
    for expected, p in zip(full, model.parameters()):
        assert_close(p.grad, expected)
