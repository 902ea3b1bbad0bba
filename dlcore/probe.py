"""Looking inside a :mod:`dlcore.nn` network: what each layer outputs, and what gradient reaches
it. The instruments of the chapter on training deep networks (vanishing gradients, dead units,
initialisation, batch normalisation).

:func:`trace` runs a ``Sequential`` one layer at a time, keeping every layer's output and, after
a backward pass, the gradient with respect to every layer's output and every parameter.
:func:`layer_table` turns a trace into per-layer statistics; :func:`dead_fraction` counts the ReLU
units that never fire on a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import nn

__all__ = ["Trace", "trace", "layer_table", "dead_fraction"]


@dataclass
class Trace:
    """What :func:`trace` recorded. ``outputs[i]`` is the output of layer ``i`` (``inputs`` the
    network's input); ``grads[i]`` is ∂L/∂``outputs[i]`` (empty without a backward pass);
    ``param_grads`` maps parameter names (``"3.weight"``) to their gradients."""

    layers: list
    inputs: np.ndarray
    outputs: list = field(default_factory=list)
    grads: list = field(default_factory=list)
    param_grads: dict = field(default_factory=dict)


def trace(model, x, grad_out=None, loss=None, target=None) -> Trace:
    """Forward ``x`` through ``model`` (an ``nn.Sequential``) layer by layer, keeping each output.

    For the backward pass give either ``grad_out`` (∂L/∂output, e.g. random, to probe the
    backward signal alone) or ``loss`` and ``target`` (a dlcore.nn loss). The model's parameter
    gradients are zeroed first, so ``param_grads`` hold this batch's gradients only.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"trace expects an nn.Sequential, got {type(model).__name__}")
    if grad_out is not None and loss is not None:
        raise ValueError("give grad_out or loss (with target), not both")
    if (loss is None) != (target is None):
        raise ValueError("loss and target go together")
    layers = list(model)
    record = Trace(layers=layers, inputs=np.asarray(x))
    h = record.inputs
    for layer in layers:
        h = layer(h)
        record.outputs.append(h)
    if grad_out is None and loss is None:
        return record
    model.zero_grad()
    if loss is not None:
        loss(h, target)
        grad_out = loss.backward()
    g = np.asarray(grad_out)
    grads = []
    for layer in reversed(layers):
        grads.append(g)
        g = layer.backward(g)
        if g is None:  # the first layer needs no input gradient
            break
    record.grads = grads[::-1] if len(grads) == len(layers) else \
        [None] * (len(layers) - len(grads)) + grads[::-1]
    record.param_grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    return record


def layer_table(record: Trace, kinds=None) -> list[dict]:
    """Per layer (optionally only those whose class is in ``kinds``): its index and class, the
    mean and standard deviation of its output, the fraction of exact zeros, and — after a
    backward pass — the standard deviation of ∂L/∂output and the norm of its weight gradient."""
    rows = []
    for i, (layer, out) in enumerate(zip(record.layers, record.outputs)):
        if kinds is not None and not isinstance(layer, tuple(kinds)):
            continue
        row = {"layer": i, "kind": type(layer).__name__, "mean": float(out.mean()),
               "std": float(out.std()), "zeros": float(np.mean(out == 0))}
        if record.grads and record.grads[i] is not None:
            row["grad_std"] = float(record.grads[i].std())
        weight = record.param_grads.get(f"{i}.weight")
        if weight is not None:
            row["weight_grad_norm"] = float(np.linalg.norm(weight))
        rows.append(row)
    return rows


def dead_fraction(model, x) -> list[float]:
    """For each ReLU of ``model``: the fraction of its units that output zero for *every*
    example of ``x`` (a unit that never fires gets no gradient, so it stays dead)."""
    record = trace(model, x)
    return [float(np.mean(np.all(out.reshape(len(out), -1) == 0, axis=0)))
            for layer, out in zip(record.layers, record.outputs) if isinstance(layer, nn.ReLU)]
