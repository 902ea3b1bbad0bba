"""dlcore.models.lenet: LeNet-5 (modern and the paper's), the lectures' small CNN, and the
NumPy twin of the modern LeNet-5 (Chapter 7)."""

import numpy as np
import pytest
import torch

from dlcore import nn
from dlcore.models import LeNet5, lecture_cnn, lenet5
from dlcore.models.lenet import (C3_TABLE, ConnectionTableConv2d, ScaledTanh, Subsampling,
                                 count_parameters)
from dlcore.twins import to_torch

# LeCun et al. (1998), section II.B: trainable parameters of each layer.
PAPER_COUNTS = {"C1": 156, "S2": 12, "C3": 1_516, "S4": 32, "C5": 48_120, "F6": 10_164}


@pytest.mark.parametrize("variant, side", [("modern", 28), ("paper", 32)])
@pytest.mark.parametrize("num_classes", [10, 3])
def test_lenet5_output_shape(variant, side, num_classes):
    torch.manual_seed(0)
    model = lenet5(variant, num_classes=num_classes)
    assert isinstance(model, LeNet5) and model.input_shape == (1, side, side)
    assert model(torch.randn(4, 1, side, side)).shape == (4, num_classes)


def test_modern_feature_map_shapes():
    x, shapes = torch.randn(2, 1, 28, 28), []
    for layer in lenet5():
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(6, 28, 28)] * 2 + [(6, 14, 14)] + [(16, 10, 10)] * 2 + [(16, 5, 5),
                      (400,), (120,), (120,), (84,), (84,), (10,)]


def test_paper_feature_map_shapes():
    x, model = torch.randn(2, 1, 32, 32), lenet5("paper")
    shapes = {}
    for i, layer in enumerate(model):
        x = layer(x)
        shapes[i] = tuple(x.shape[1:])
    named = {name: shapes[i] for name, i in model.layers.items()}
    assert named == {"C1": (6, 28, 28), "S2": (6, 14, 14), "C3": (16, 10, 10),
                     "S4": (16, 5, 5), "C5": (120, 1, 1), "F6": (84,), "output": (10,)}


def test_modern_parameter_count():
    model = lenet5()
    assert count_parameters(model) == sum(p.numel() for p in model.parameters()) == 61_706
    assert model.layer_parameters() == {"C1": 156, "S2": 0, "C3": 2_416, "S4": 0,
                                        "C5": 48_120, "F6": 10_164, "output": 850}


def test_paper_parameter_counts_per_layer_and_total():
    model = lenet5("paper")
    counts = model.layer_parameters()
    assert {k: counts[k] for k in PAPER_COUNTS} == PAPER_COUNTS
    assert counts["output"] == 84 * 10 + 10  # a linear layer instead of the RBF units
    assert count_parameters(model) == sum(PAPER_COUNTS.values()) + 850 == 60_850
    # the dense C3 tensor holds 900 entries that the table leaves unconnected
    dense = sum(p.numel() for p in model.parameters())
    assert dense - count_parameters(model) == (16 * 6 - 60) * 25 == 900


def test_lecture_cnn_shapes_and_parameter_count():
    model = lecture_cnn()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    expected = (3 * 25 + 1) * 64 + (64 * 25 + 1) * 128 + (128 * 25 + 1) * 128 + 129 * 10
    assert count_parameters(model) == expected == 620_810
    grey = lecture_cnn(in_channels=1, num_classes=5)
    assert grey(torch.randn(2, 1, 32, 32)).shape == (2, 5)
    assert count_parameters(grey) == 620_810 - 2 * 64 * 25 - 5 * 129 == 616_965
    tanh = lecture_cnn(activation="tanh")
    kinds = [type(m).__name__ for m in tanh]
    assert kinds.count("Tanh") == 3 and "ReLU" not in kinds
    assert count_parameters(tanh) == 620_810
    with pytest.raises(ValueError, match="activation must be 'relu' or 'tanh'"):
        lecture_cnn(activation="sigmoid")


def test_c3_table_is_the_papers():
    window = lambda start, width: {(start + k) % 6 for k in range(width)}
    rows = [set(t) for t in C3_TABLE]
    assert rows[:6] == [window(s, 3) for s in range(6)]  # 3 contiguous S2 maps
    assert rows[6:12] == [window(s, 4) for s in range(6)]  # 4 contiguous
    assert rows[12:15] == [{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}]  # 4, not contiguous
    assert not any(r == window(s, 4) for r in rows[12:15] for s in range(6))
    assert rows[15] == set(range(6))
    assert sum(map(len, rows)) == 60  # 60 kernels of 25 weights and 16 biases: 1,516


def test_c3_connects_each_map_to_exactly_its_table_row():
    c3 = lenet5("paper")[4]
    assert isinstance(c3, ConnectionTableConv2d)
    for j, inputs in enumerate(C3_TABLE):
        connected = {i for i in range(6) if c3.weight[j, i].abs().sum() > 0}
        assert connected == set(inputs), j
    # and the output of map j does not move when an unconnected input map changes
    torch.manual_seed(0)
    x = torch.randn(2, 6, 14, 14)
    for j, inputs in enumerate(C3_TABLE):
        for i in set(range(6)) - set(inputs):
            changed = x.clone()
            changed[:, i] += 10.0
            torch.testing.assert_close(c3(changed)[:, j], c3(x)[:, j], rtol=0, atol=0)


def test_unconnected_c3_weights_get_no_gradient_and_stay_zero():
    torch.manual_seed(1)
    model = lenet5("paper")
    c3 = model[4]
    unconnected = (c3.connections == 0).expand_as(c3.weight)
    for make in (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
                 lambda ps: torch.optim.Adam(ps, lr=0.01)):
        opt = make(model.parameters())
        for _ in range(3):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 1, 32, 32)),
                                                     torch.randint(0, 10, (8,)))
            loss.backward()
            assert c3.weight.grad[unconnected].abs().max() == 0
            assert c3.weight.grad[~unconnected].abs().max() > 0
            opt.step()
        assert c3.weight[unconnected].abs().max() == 0


def test_paper_pieces():
    f = ScaledTanh()
    values = f(torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(values, torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64),
                               rtol=0, atol=1e-4)  # f(±1) = ±1 by the choice of A and S
    s2 = Subsampling(2)
    with torch.no_grad():
        s2.weight.copy_(torch.tensor([0.5, -1.0]))
        s2.bias.copy_(torch.tensor([1.0, 0.0]))
    x = torch.arange(32.0).reshape(1, 2, 4, 4)
    blocks = x.reshape(1, 2, 2, 2, 2, 2).sum(dim=(3, 5))  # sums of the 2x2 blocks
    expected = blocks * torch.tensor([0.5, -1.0])[:, None, None] + torch.tensor(
        [1.0, 0.0])[:, None, None]
    torch.testing.assert_close(s2(x), expected, rtol=0, atol=1e-5)


def test_paper_initialisation_is_uniform_in_2_4_over_fan_in():
    torch.manual_seed(2)
    model = lenet5("paper")
    assert model[0].weight.abs().max() <= 2.4 / 25
    assert model[0].weight.abs().max() > 0.8 * 2.4 / 25
    assert model[2].weight.abs().max() <= 2.4 / 4
    c3 = model[4]
    for j, inputs in enumerate(C3_TABLE):
        assert c3.weight[j].abs().max() <= 2.4 / (25 * len(inputs)) + 1e-7
    assert model[8].weight.abs().max() <= 2.4 / 400 and model[11].weight.abs().max() <= 2.4 / 120


def test_wrong_inputs_and_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match=r"expects inputs of shape \(N, 1, 28, 28\), got "
                                         r"\(2, 1, 32, 32\)"):
        lenet5()(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\), got \(2, 1, 28, 28\).*pad"):
        lenet5("paper")(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\), got \(2, 1, 32, 32\)"):
        lecture_cnn()(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\), got \(1, 28, 28\)"):
        lenet5()(torch.randn(1, 28, 28))
    with pytest.raises(TypeError, match="torch.Tensor"):
        lenet5()(np.zeros((2, 1, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"unknown variant 'lenet'.*'modern', 'paper'"):
        lenet5("lenet")
    with pytest.raises(ValueError, match="num_classes must be >= 1, got 0"):
        lenet5(num_classes=0)
    with pytest.raises(TypeError, match="in_channels must be an int"):
        lecture_cnn(in_channels=3.0)
    with pytest.raises(ValueError, match="lists 2 output maps, expected out_channels = 3"):
        ConnectionTableConv2d(2, 3, 3, [(0,), (1,)])
    with pytest.raises(ValueError, match=r"output map 1 lists input maps \(2,\)"):
        ConnectionTableConv2d(2, 2, 3, [(0,), (2,)])


def numpy_lenet5(rng=0):
    """The modern LeNet-5 in dlcore.nn, layer for layer (Chapter 7 builds the same)."""
    f64, r = np.float64, np.random.default_rng(rng)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, dtype=f64, rng=r), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, dtype=f64, rng=r), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120, dtype=f64, rng=r), nn.ReLU(), nn.Linear(120, 84, dtype=f64, rng=r),
        nn.ReLU(), nn.Linear(84, 10, dtype=f64, rng=r))


def test_numpy_twin_has_the_same_keys_and_computes_the_same_function():
    ours, theirs = numpy_lenet5(), lenet5().double()
    assert list(ours.state_dict()) == list(theirs.state_dict())  # no key_map needed
    to_torch(ours, theirs)
    x = np.random.default_rng(3).random((5, 1, 28, 28))
    x_t = torch.from_numpy(x).requires_grad_()
    y_t = theirs(x_t)
    np.testing.assert_allclose(ours(x), y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(4).standard_normal(y_t.shape)
    dx = ours.backward(g)
    y_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (key, p), p_t in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, p_t.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=key)


def test_a_slice_is_a_plain_sequential_of_the_same_layers():
    model = lenet5()
    features = model[:6]
    assert type(features) is torch.nn.Sequential and features[0] is model[0]
    assert features(torch.randn(2, 1, 28, 28)).shape == (2, 16, 5, 5)
    assert lecture_cnn(1)[:6](torch.randn(1, 1, 28, 28)).shape == (1, 128, 4, 4)
