"""A model summary: for each layer its output shape, parameters, multiply-adds and neurons.

The multiply-adds come from torch's own ``torch.utils.flop_counter.FlopCounterMode`` (which
counts a multiply-add as two floating-point operations); the output shapes from forward hooks on
one forward pass of a zero input of batch size 1, in evaluation mode and without gradients. A
*neuron* is an output unit of a layer with weights (a convolution's ``C×H×W`` outputs, a linear
layer's ``out_features``), the count the AlexNet paper gives as "650,000 neurons".
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["summary", "summary_table", "stack_receptive_field"]


def summary(model: nn.Module, input_size) -> list[dict]:
    """One row per leaf module that runs in ``model(torch.zeros(1, *input_size))``, in the
    order they run (a model without submodules, such as a bare ``nn.Conv2d``, is one row named
    ""): ``name``, ``kind``, ``output`` (shape without the batch), ``parameters``,
    ``mult_adds`` and ``neurons``. The model's train/eval mode is restored afterwards."""
    input_size = tuple(input_size)
    if not input_size or any(not isinstance(s, int) or s < 1 for s in input_size):
        raise ValueError(f"summary: input_size must be the input's shape without the batch, "
                         f"e.g. (3, 224, 224); got {input_size}")
    leaves = {name: m for name, m in model.named_modules() if name and not any(m.children())}
    if not any(model.children()):  # a single layer is its own one row
        leaves = {"": model}
    outputs, order = {}, []

    def record(name):
        def hook(module, inputs, output):
            if name not in outputs:
                order.append(name)
            outputs[name] = tuple(output.shape[1:])
        return hook

    hooks = [m.register_forward_hook(record(name)) for name, m in leaves.items()]
    param = next(model.parameters(), None)
    x = torch.zeros((1, *input_size), device=None if param is None else param.device,
                    dtype=torch.float32 if param is None else param.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    counts = counter.get_flop_counts()
    prefix = type(model).__name__
    rows = []
    for name in order:
        module = leaves[name]
        flops = sum(counts.get(f"{prefix}.{name}" if name else prefix, {}).values())
        has_weight = isinstance(getattr(module, "weight", None), torch.Tensor)
        rows.append(dict(name=name, kind=type(module).__name__, output=outputs[name],
                         parameters=sum(p.numel() for p in module.parameters(recurse=False)),
                         mult_adds=int(flops // 2),
                         neurons=math.prod(outputs[name]) if has_weight else 0))
    return rows


def summary_table(rows, skip_empty: bool = True) -> str:
    """The rows of :func:`summary` as a fixed-width text table with a total line; layers with
    no parameters, no multiply-adds and no neurons (ReLU, dropout) are left out unless
    ``skip_empty`` is False."""
    shown = [r for r in rows if not skip_empty or r["parameters"] or r["mult_adds"]
             or r["kind"] in ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                              "LocalResponseNorm")]
    lines = [f"{'layer':<16}{'kind':<20}{'output':>16}{'parameters':>13}{'mult-adds':>15}"
             f"{'neurons':>11}"]
    for r in shown:
        shape = " x ".join(map(str, r["output"]))
        lines.append(f"{r['name']:<16}{r['kind']:<20}{shape:>16}{r['parameters']:>13,}"
                     f"{r['mult_adds']:>15,}{r['neurons']:>11,}")
    total = {k: sum(r[k] for r in rows) for k in ("parameters", "mult_adds", "neurons")}
    lines.append(f"{'total':<52}{total['parameters']:>13,}{total['mult_adds']:>15,}"
                 f"{total['neurons']:>11,}")
    return "\n".join(lines)


def stack_receptive_field(model: nn.Module) -> int:
    """The receptive field, in input pixels, of one output unit of a sequential stack of
    convolutions and poolings (``model.modules()`` in order; other layers do not change it):
    ``r = 1 + Σ_l (k_l − 1) · Π_{m<l} s_m``, with dilation taken into account. Two stacked 3×3
    convolutions see 5×5 pixels, three see 7×7; VGG-16's last pooling sees 212."""
    r, jump = 1, 1
    for m in model.modules():
        if not isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            continue
        k, s = m.kernel_size, m.stride
        k = k[0] if isinstance(k, tuple) else k
        s = s[0] if isinstance(s, tuple) else s
        d = getattr(m, "dilation", 1)
        d = d[0] if isinstance(d, tuple) else d
        r += (k - 1) * d * jump
        jump *= s
    return r
