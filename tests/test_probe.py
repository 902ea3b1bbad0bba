"""dlcore.probe: per-layer outputs and gradients of a Sequential, checked against torch."""

import numpy as np
import pytest
import torch

from dlcore import nn, probe
from dlcore.twins import to_torch
from nn_helpers import assert_close


def mlp():
    f64 = np.float64
    return nn.Sequential(nn.Linear(4, 5, dtype=f64, rng=0), nn.Tanh(),
                         nn.Linear(5, 3, dtype=f64, rng=1), nn.ReLU(),
                         nn.Linear(3, 2, dtype=f64, rng=2))


def torch_mlp():
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3),
                               torch.nn.ReLU(), torch.nn.Linear(3, 2)).double()


def test_trace_records_outputs_and_gradients_as_torch_computes_them():
    model, twin = mlp(), torch_mlp()
    to_torch(model, twin)
    x = np.random.default_rng(0).normal(size=(6, 4))
    y = np.array([0, 1, 1, 0, 1, 0])
    record = probe.trace(model, x, loss=nn.CrossEntropyLoss(), target=y)
    outputs, h = [], torch.tensor(x)
    for layer in twin:
        h = layer(h)
        h.retain_grad()
        outputs.append(h)
    torch.nn.functional.cross_entropy(h, torch.from_numpy(y)).backward()
    for ours, theirs in zip(record.outputs, outputs):
        assert_close(ours, theirs)
    for ours, theirs in zip(record.grads, outputs):
        assert_close(ours, theirs.grad)
    for name, p in twin.named_parameters():
        assert_close(record.param_grads[name], p.grad, what=name)


def test_trace_without_backward_and_with_a_probe_gradient():
    model = mlp()
    x = np.ones((2, 4))
    assert probe.trace(model, x).grads == []
    model[0].needs_input_grad = False
    record = probe.trace(model, x, grad_out=np.ones((2, 2)))
    assert len(record.grads) == 5 and record.grads[0] is not None  # outputs of layer 0
    with pytest.raises(ValueError, match="grad_out or loss"):
        probe.trace(model, x, grad_out=np.ones((2, 2)), loss=nn.MSELoss(), target=x)
    with pytest.raises(TypeError, match="nn.Sequential"):
        probe.trace(nn.Linear(4, 2), x)


def test_layer_table_statistics():
    model = mlp()
    x = np.random.default_rng(1).normal(size=(50, 4))
    record = probe.trace(model, x, grad_out=np.ones((50, 2)))
    rows = probe.layer_table(record)
    assert [r["kind"] for r in rows] == ["Linear", "Tanh", "Linear", "ReLU", "Linear"]
    out = record.outputs[3]
    assert rows[3]["std"] == pytest.approx(out.std()) and rows[3]["zeros"] == np.mean(out == 0)
    assert rows[4]["weight_grad_norm"] == pytest.approx(np.linalg.norm(model[4].weight.grad))
    assert rows[1]["grad_std"] == pytest.approx(record.grads[1].std())
    assert [r["layer"] for r in probe.layer_table(record, kinds=[nn.Linear])] == [0, 2, 4]


def test_dead_fraction_counts_units_that_never_fire():
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.ReLU())
    model[0].weight.data[:] = 0
    model[0].bias.data[:] = [1.0, -1.0, 0.0, 2.0]  # units 1 and 2 never fire
    x = np.random.default_rng(2).normal(size=(10, 3))
    assert probe.dead_fraction(model, x) == [0.5]
