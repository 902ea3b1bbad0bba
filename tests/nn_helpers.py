"""Shared helpers for the dlcore.nn tests: compare a NumPy layer with its torch twin."""

import numpy as np
import torch

from dlcore.twins import to_torch

RTOL, ATOL = 1e-7, 1e-10


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, what="value"):
    """Same shape (no broadcasting) and |a - e| <= atol + rtol |e| everywhere."""
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def check_against_torch(layer, torch_layer, x, seed=0, **forward_kwargs):
    """Forward values, the input gradient and every parameter gradient agree with torch.

    Copies our parameters and buffers into the twin (dlcore.twins) and puts it in our
    train/eval mode first. Returns the twin's parameters (name -> tensor) for further checks.
    """
    to_torch(layer, torch_layer)
    torch_layer.train(layer.training)
    torch_params = dict(torch_layer.named_parameters())
    x_t = torch.tensor(x, requires_grad=True)
    y = layer(x, **forward_kwargs)
    y_t = torch_layer(x_t)
    assert_close(y, y_t, what="forward")
    assert y.dtype == x.dtype
    g = np.random.default_rng(seed).standard_normal(y.shape)
    grad_x = layer.backward(g)
    y_t.backward(torch.from_numpy(g))
    assert_close(grad_x, x_t.grad, what="input gradient")
    assert [n for n, _ in layer.named_parameters()] == list(torch_params)
    for name, p in layer.named_parameters():
        theirs = torch_params[name].grad  # None: torch's way of saying zero (unused parameter)
        theirs = torch.zeros_like(torch_params[name]) if theirs is None else theirs
        assert_close(p.grad, theirs, what=f"{name} gradient")
    return torch_params
