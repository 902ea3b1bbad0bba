"""Module mechanics: parameter names, shared weights, ModuleList, buffers and state_dict,
train/eval, gradient accumulation, imports, and small models trained side by side with torch."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from dlcore import nn
from dlcore.twins import to_torch
from nn_helpers import assert_close


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
    to_torch(model, twin)
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
    to_torch(model, twin)
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


# --------------------------------------------------------------------------- shared weights


class TiedAutoencoder(nn.Module):
    """x -> sigmoid(W x + c) -> h W + b (decoder tied to the encoder, transposed), then the
    same Linear applied a second time on a side path: one Parameter used three times."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(6, 4, dtype=np.float64, rng=0)
        self.act = nn.Sigmoid()
        self.decoder = nn.TiedLinear(self.encoder.weight, rng=1)
        self.square = nn.Linear(4, 4, bias=False, dtype=np.float64, rng=2)
        self.again = nn.Linear(4, 4, bias=False, dtype=np.float64)
        self.again.weight = self.square.weight  # the same Parameter in two layers

    def forward(self, x):
        h = self.act(self.encoder(x))
        return self.decoder(self.again(self.square(h)))

    def backward(self, g):
        g = self.square.backward(self.again.backward(self.decoder.backward(g)))
        return self.encoder.backward(self.act.backward(g))


class TorchTiedAutoencoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Linear(6, 4)
        self.act = torch.nn.Sigmoid()
        self.decoder = torch.nn.Module()
        self.decoder.weight = self.encoder.weight
        self.decoder.bias = torch.nn.Parameter(torch.zeros(6))
        self.square = torch.nn.Linear(4, 4, bias=False)
        self.again = torch.nn.Linear(4, 4, bias=False)
        self.again.weight = self.square.weight

    def forward(self, x):
        h = self.again(self.square(self.act(self.encoder(x))))
        return torch.nn.functional.linear(h, self.decoder.weight.t(), self.decoder.bias)


def test_shared_parameters_are_listed_once_and_saved_under_every_name():
    model, twin = TiedAutoencoder(), TorchTiedAutoencoder().double()
    names = [n for n, _ in model.named_parameters()]
    assert names == [n for n, _ in twin.named_parameters()] == \
        ["encoder.weight", "encoder.bias", "decoder.bias", "square.weight"]
    assert list(model.state_dict()) == list(twin.state_dict()) == \
        ["encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias", "square.weight",
         "again.weight"]
    assert model.state_dict()["decoder.weight"] is model.encoder.weight.data
    l1 = nn.Linear(3, 3, bias=False)
    l2 = nn.Linear(3, 3, bias=False)
    l2.weight = l1.weight
    assert len(list(nn.Sequential(l1, l2).parameters())) == 1  # the example


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_tied_weights_train_exactly_like_torch(optimizer):
    model, twin = TiedAutoencoder(), TorchTiedAutoencoder().double()
    to_torch(model, twin)
    make = {"sgd": lambda ps, lib: lib.SGD(ps, lr=0.3, momentum=0.9),
            "adam": lambda ps, lib: lib.Adam(ps, lr=0.05)}[optimizer]
    opt, opt_t = make(model.parameters(), nn.optim), make(twin.parameters(), torch.optim)
    crit, crit_t = nn.MSELoss(), torch.nn.MSELoss()
    x = np.random.default_rng(0).uniform(size=(8, 6))
    x_t = torch.from_numpy(x)
    for _ in range(5):
        opt.zero_grad()
        loss = crit(model(x), x)
        model.backward(crit.backward())
        opt.step()
        opt_t.zero_grad()
        loss_t = crit_t(twin(x_t), x_t)
        loss_t.backward()
        opt_t.step()
        assert_close(loss, loss_t.item(), what="loss")
        for name, value in twin.state_dict().items():
            assert_close(model.state_dict()[name], value, what=name)
    assert model.decoder.weight is model.encoder.weight  # still one array after the steps


def test_a_weight_used_twice_accumulates_both_gradients():
    # a layer keeps the arrays of one forward, so a weight used twice lives in two layers
    first = nn.Linear(2, 2, bias=False, dtype=np.float64, rng=0)
    second = nn.Linear(2, 2, bias=False, dtype=np.float64)
    second.weight = first.weight
    model = nn.Sequential(first, nn.Tanh(), second)
    x = np.random.default_rng(1).standard_normal((3, 2))
    model.backward(np.ones_like(model(x)))
    twin = torch.nn.Linear(2, 2, bias=False).double()
    to_torch(first, twin)
    twin(torch.tanh(twin(torch.from_numpy(x)))).sum().backward()
    assert_close(first.weight.grad, twin.weight.grad)
    assert len(list(model.parameters())) == 1


# --------------------------------------------------------------------------- ModuleList


def test_modules_in_a_plain_container_are_refused():
    class InList(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(3, 2), nn.Linear(2, 1)]

    with pytest.raises(TypeError, match=r"InList.layers is a plain list.*nn.ModuleList"):
        InList()

    class FilledLater(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = {}
            self.blocks["a"] = nn.ReLU()

    with pytest.raises(TypeError, match=r"FilledLater.blocks is a plain dict.*ModuleList"):
        list(FilledLater().parameters())
    with pytest.raises(TypeError, match="plain tuple"):
        nn.Sequential().extra = (nn.Parameter(np.zeros(2)),)


def test_module_list_is_seen_by_the_tree():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 4), nn.BatchNorm1d(4)])
            self.layers.append(nn.Linear(4, 1))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    model = Stack()
    assert [n for n, _ in model.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "layers.2.weight", "layers.2.bias"]
    assert [n for n, _ in model.named_buffers()] == [
        "layers.1.running_mean", "layers.1.running_var", "layers.1.num_batches_tracked"]
    assert len(model.layers) == 3 and isinstance(model.layers[-1], nn.Linear)
    assert isinstance(model.layers[1:], nn.ModuleList) and len(model.layers[1:]) == 2
    model.eval()
    assert not model.layers[1].training
    assert model(np.ones((2, 3), np.float32)).shape == (2, 1)
    with pytest.raises(NotImplementedError, match="iterate over it"):
        model.layers(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="ModuleList takes Modules, got int at position 3"):
        model.layers.append(3)


# --------------------------------------------------------------------------- buffers, state_dict


def test_state_dict_has_torchs_keys_shapes_and_order():
    model, twin = small_cnn(), torch_small_cnn()
    ours, theirs = model.state_dict(), twin.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) for k in ours)
    assert ours["1.num_batches_tracked"].dtype == np.int64


def test_state_dict_round_trip_and_buffers_follow_training():
    model = small_cnn()
    x = np.random.default_rng(0).standard_normal((4, 1, 6, 6))
    model(x)  # one training batch: running statistics move
    assert model[1].num_batches_tracked == 1
    saved = {k: v.copy() for k, v in model.state_dict().items()}
    other = small_cnn()
    assert not np.array_equal(other[1].running_mean, saved["1.running_mean"])
    result = other.load_state_dict(saved)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in other.state_dict().items():
        assert np.array_equal(value, saved[key]), key
    model.eval(), other.eval()
    assert np.array_equal(model(x), other(x))


def test_load_state_dict_errors_leave_the_model_unchanged():
    model = small_cnn()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    bad = {k: np.zeros_like(v) for k, v in before.items()}
    bad["6.weight"] = np.zeros((3, 9))
    del bad["1.running_var"]
    bad["head.weight"] = np.zeros(2)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert "missing key(s): 1.running_var" in message
    assert "unexpected key(s): head.weight" in message
    assert "size mismatch for 6.weight: the state dict has shape (3, 9), the model (3, 8)" in \
        message
    for key, value in model.state_dict().items():
        assert np.array_equal(value, before[key]), f"{key} was written"
    del bad["6.weight"]
    result = model.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["1.running_var", "6.weight"]
    assert result.unexpected_keys == ["head.weight"]
    assert not model[0].weight.data.any() and np.array_equal(model[6].weight.data,
                                                              before["6.weight"])
