"""Shared helpers for the dlcore.nn tests: compare a NumPy layer with its torch twin."""

import numpy as np
import torch

RTOL, ATOL = 1e-7, 1e-10


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, what="value"):
    """Same shape (no broadcasting) and |a - e| <= atol + rtol |e| everywhere."""
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def copy_params_to_torch(layer, torch_layer):
    """Give the torch layer our parameters; the names must be torch's own."""
    ours = dict(layer.named_parameters())
    theirs = dict(torch_layer.named_parameters())
    assert ours.keys() == theirs.keys(), f"parameter names {list(ours)} != {list(theirs)}"
    with torch.no_grad():
        for name, p in ours.items():
            assert p.data.shape == tuple(theirs[name].shape), name
            theirs[name].copy_(torch.from_numpy(p.data))
    return theirs


def check_against_torch(layer, torch_layer, x, seed=0, **forward_kwargs):
    """Forward values, the input gradient and every parameter gradient agree with torch.

    Returns the torch layer's parameters (name -> tensor) for further checks.
    """
    torch_params = copy_params_to_torch(layer, torch_layer)
    x_t = torch.tensor(x, requires_grad=True)
    y = layer(x, **forward_kwargs)
    y_t = torch_layer(x_t)
    assert_close(y, y_t, what="forward")
    assert y.dtype == x.dtype
    g = np.random.default_rng(seed).standard_normal(y.shape)
    grad_x = layer.backward(g)
    y_t.backward(torch.from_numpy(g))
    assert_close(grad_x, x_t.grad, what="input gradient")
    for name, p in layer.named_parameters():
        assert_close(p.grad, torch_params[name].grad, what=f"{name} gradient")
    return torch_params
