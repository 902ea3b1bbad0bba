"""Parameter, Module and Sequential: the skeleton every layer hangs on.

A layer computes ``y = f(x; θ)`` in ``forward`` and, given ``∂L/∂y`` in ``backward``, returns
``∂L/∂x`` and *adds* ``∂L/∂θ`` to each parameter's ``.grad`` (adding, not assigning, is what
lets a parameter used twice, or gradients summed over several batches, come out right).
Forward saves exactly what backward needs; backward consumes it, as torch frees its graph.

The first layer's input is the data, whose gradient nobody uses; torch skips it because the
data has ``requires_grad=False``. Here, set ``layer.needs_input_grad = False`` on that layer:
Linear and Conv2d then skip one GEMM (the costliest part of their backward) and return None.
"""

import numpy as np


class Parameter:
    """A trainable array: ``data`` and its gradient ``grad`` (same shape, starts at zero)."""

    def __init__(self, data):
        self.data = np.asarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: parameters and sub-modules are found among the attributes, in the order set."""

    def __init__(self):
        self.training = True
        self.needs_input_grad = True
        self._saved = None

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")

    # -- what forward keeps for backward (the names of torch.autograd.Function's ctx) --
    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        """The arrays saved by the last forward; reading them releases them."""
        if self._saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called without a forward() "
                               "before it: call forward() before each backward()")
        saved, self._saved = self._saved, None
        return saved

    # -- the module tree --
    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self, prefix=""):
        """Yield ``(name, Parameter)``: own parameters first, then children's (``"0.weight"``)."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def zero_grad(self):
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode=True):
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def extra_repr(self):
        return ""

    def __repr__(self):
        children = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self.named_children()]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(children) + "\n)"


class Sequential(Module):
    """Modules applied in order; backward runs the chain rule through them in reverse."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential takes Modules, got {type(m).__name__} "
                                f"at position {i}")
        self._modules = list(modules)

    def named_children(self):
        for i, m in enumerate(self._modules):
            yield str(i), m

    def forward(self, x):
        for m in self._modules:
            x = m(x)
        return x

    def backward(self, grad_out):
        for m in reversed(self._modules):
            grad_out = m.backward(grad_out)
            if grad_out is None:  # m's input needs no gradient, nor do the modules before it
                break
        return grad_out

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._modules[index])
        return self._modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)
