"""Parameter, Module, ModuleList and Sequential: the skeleton every layer hangs on.

A layer computes ``y = f(x; θ)`` in ``forward`` and, given ``∂L/∂y`` in ``backward``, returns
``∂L/∂x`` and *adds* ``∂L/∂θ`` to each parameter's ``.grad`` (adding, not assigning, is what
lets a parameter used twice, or gradients summed over several batches, come out right).
Forward saves exactly what backward needs; backward consumes it, as torch frees its graph.

The module tree mirrors torch's: parameters, buffers and sub-modules are found among the
attributes, in the order they were set; ``named_parameters()`` lists a Parameter shared by two
layers once (so an optimiser steps it once, with the sum of both gradients), while
``state_dict()`` lists every name, as torch does. A layer keeps the arrays of one forward, so
a weight used twice lives in two layers that hold the same Parameter (``l2.weight =
l1.weight``), not in one layer called twice. Modules kept in a list belong in a
:class:`ModuleList`; a plain list, tuple or dict of Modules is refused, since nothing could
see them.

Every ``backward(grad_out)`` checks ``grad_out`` against the output of the last ``forward``
(same shape, same dtype) before it runs, so a wrong gradient fails at the layer that received
it. The first layer's input is the data, whose gradient nobody uses; torch skips it because
the data has ``requires_grad=False``. Here, set ``layer.needs_input_grad = False`` on that
layer: every layer then returns None from ``backward`` (Linear and Conv2d also skip the GEMM
that would compute it, the costliest part of their backward), and ``Sequential`` stops there.
"""

from collections import OrderedDict, namedtuple
from functools import wraps

import numpy as np

from ._checks import float_dtype


class Parameter:
    """A trainable array: ``data`` and its gradient ``grad`` (same shape, starts at zero).
    ``data`` must be floating-point (float32, float64, ...): a TypeError says otherwise."""

    def __init__(self, data):
        data = np.asarray(data)
        float_dtype(data.dtype, "Parameter")  # a gradient step cannot update integers
        self.data = data
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self):
        """The shape of ``data`` (and of ``grad``)."""
        return self.data.shape

    @property
    def dtype(self):
        """The dtype of ``data`` (and of ``grad``)."""
        return self.data.dtype

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _hides_modules(value):
    """Does a plain container hold a Module or Parameter that the tree would never see?"""
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, (Module, Parameter)) for v in items)


def _hidden_modules_error(owner, name, value):
    return TypeError(
        f"{type(owner).__name__}.{name} is a plain {type(value).__name__} holding Modules or "
        f"Parameters: parameters(), state_dict() and train()/eval() cannot see inside it. "
        f"Use nn.ModuleList([...]) (or nn.Sequential) for modules, and give each Parameter "
        f"an attribute of its own")


def _checked_forward(forward):
    """Record the output's shape and dtype, which the matching backward checks."""

    @wraps(forward)
    def wrapper(self, *args, **kwargs):
        y = forward(self, *args, **kwargs)
        if isinstance(y, np.ndarray):
            self.__dict__["_out_spec"] = (y.shape, y.dtype)
        return y

    return wrapper


def _checked_backward(backward):
    """Check ``grad_out`` against the last forward's output; honour ``needs_input_grad``."""

    @wraps(backward)
    def wrapper(self, grad_out=None, *args, **kwargs):
        spec = self.__dict__.get("_out_spec")
        if spec is not None and grad_out is not None:
            grad_out = np.asarray(grad_out)
            name = type(self).__name__
            if grad_out.shape != spec[0]:
                raise ValueError(f"{name}.backward() expects a gradient shaped like the forward "
                                 f"output, {spec[0]}, got {grad_out.shape}")
            if grad_out.dtype != spec[1]:
                raise ValueError(f"{name}.backward() expects a {spec[1]} gradient (the forward "
                                 f"output's dtype), got {grad_out.dtype}; cast it with "
                                 f".astype({spec[1]}) so no layer silently changes precision")
        args = (grad_out, *args) if grad_out is not None else args
        grad_in = backward(self, *args, **kwargs)
        return grad_in if self.needs_input_grad else None

    return wrapper


class Module:
    """Base class: parameters, buffers and sub-modules are found among the attributes."""

    def __init__(self):
        self.training = True
        self.needs_input_grad = True
        self._saved = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls.forward = _checked_forward(cls.__dict__["forward"])
        if "backward" in cls.__dict__:
            cls.backward = _checked_backward(cls.__dict__["backward"])

    def __setattr__(self, name, value):
        if isinstance(value, (list, tuple, dict)) and _hides_modules(value):
            raise _hidden_modules_error(self, name, value)
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        """Compute the output from the input ``x``, keeping what ``backward`` will need."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, grad_out):
        """Given ∂L/∂output (shaped and typed like the last forward's output), add ∂L/∂θ to
        every parameter's ``.grad`` and return ∂L/∂input (None if ``needs_input_grad`` is
        False)."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")

    # -- what forward keeps for backward (the names of torch.autograd.Function's ctx) --
    def save_for_backward(self, *arrays):
        """Keep ``arrays`` (or any values) for the next ``backward``, which releases them."""
        self._saved = arrays

    @property
    def saved_tensors(self):
        """The arrays saved by the last forward; reading them releases them."""
        if self.__dict__.get("_saved") is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called without a forward() "
                               "before it: call forward() before each backward()")
        saved, self._saved = self._saved, None
        return saved

    # -- buffers: arrays that define the function but are not trained (running statistics) --
    def register_buffer(self, name, value):
        """Keep ``value`` (an array) as attribute ``name``, listed by ``named_buffers()`` and
        saved in ``state_dict()``; loading a state dict writes into it in place."""
        value = np.asarray(value)
        names = self.__dict__.setdefault("_buffer_names", [])
        if name not in names:
            names.append(name)
        setattr(self, name, value)

    # -- the module tree --
    def named_children(self):
        """Yield ``(name, module)`` for each direct sub-module, in the order they were set."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple, dict)) and _hides_modules(value):
                raise _hidden_modules_error(self, name, value)  # filled after assignment

    def named_modules(self, prefix=""):
        """Yield ``(name, module)`` for this module and every descendant, each once."""
        return self._modules_once(prefix, set())

    def _modules_once(self, prefix, seen):
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child._modules_once(f"{prefix}.{name}" if prefix else name, seen)

    def _own(self, kind):
        if kind == "parameter":
            return [(n, v) for n, v in vars(self).items() if isinstance(v, Parameter)]
        return [(n, getattr(self, n)) for n in self.__dict__.get("_buffer_names", [])]

    def _named(self, kind, prefix, remove_duplicate):
        seen = set()
        for module_name, module in self.named_modules():
            for name, value in module._own(kind):
                if remove_duplicate and id(value) in seen:
                    continue
                seen.add(id(value))
                full = f"{module_name}.{name}" if module_name else name
                yield prefix + full, value

    def named_parameters(self, prefix="", remove_duplicate=True):
        """Yield ``(name, Parameter)``: own parameters first, then children's (``"0.weight"``).
        A Parameter reachable under two names is listed once, under the first, as in torch."""
        return self._named("parameter", prefix, remove_duplicate)

    def parameters(self):
        """Yield every Parameter once (what an optimiser takes)."""
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self, prefix="", remove_duplicate=True):
        """Yield ``(name, array)`` for every buffer (e.g. BatchNorm's ``running_mean``)."""
        return self._named("buffer", prefix, remove_duplicate)

    def buffers(self):
        """Yield every buffer array once."""
        for _, b in self.named_buffers():
            yield b

    def state_dict(self, prefix=""):
        """Every parameter and buffer by name, in torch's order (own parameters, own buffers,
        then each child's). A shared array appears under each of its names. The values are the
        module's own arrays, not copies (as torch's tensors share storage): copy them to keep
        a snapshot."""
        state = OrderedDict()
        for name, p in self._own("parameter"):
            state[prefix + name] = p.data
        for name, b in self._own("buffer"):
            state[prefix + name] = b
        for name, child in self.named_children():
            state.update(child.state_dict(f"{prefix}{name}."))
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's parameters and buffers, in place, by key.

        Shapes must match exactly; values are cast to the module's dtype. With ``strict``, the
        keys must be exactly those of ``state_dict()``. Everything is checked before anything is
        written, so a failed load leaves the module as it was. Returns the missing and
        unexpected keys, as torch does.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append("missing key(s): " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected key(s): " + ", ".join(unexpected))
        values = {}
        for key in own.keys() & state_dict.keys():
            values[key] = np.asarray(state_dict[key])
            if values[key].shape != own[key].shape:
                problems.append(f"size mismatch for {key}: the state dict has shape "
                                f"{values[key].shape}, the model {own[key].shape}")
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: "
                               + "; ".join(problems))
        for key, value in values.items():
            own[key][...] = value
        return IncompatibleKeys(missing, unexpected)

    def zero_grad(self):
        """Set every parameter's ``.grad`` to zero (gradients accumulate until then)."""
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode=True):
        """Training mode (``mode=True``) or evaluation mode, for this module and every
        descendant: Dropout and BatchNorm behave differently in the two. Returns self."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def extra_repr(self):
        """The hyper-parameters shown between the parentheses of ``repr(module)``."""
        return ""

    def __repr__(self):
        children = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self.named_children()]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(children) + "\n)"


class _Container(Module):
    """Modules held in order, named ``"0"``, ``"1"``, ... as torch names them."""

    def __init__(self, modules=()):
        super().__init__()
        self._modules = []
        for m in modules:
            self.append(m)

    def append(self, module):
        """Add ``module`` at the end, named by its position."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} takes Modules, got "
                            f"{type(module).__name__} at position {len(self._modules)}")
        self._modules.append(module)
        return self

    def extend(self, modules):
        """Append each module of ``modules``."""
        for m in modules:
            self.append(m)
        return self

    def named_children(self):
        for i, m in enumerate(self._modules):
            yield str(i), m

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(self._modules[index])
        return self._modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)


class ModuleList(_Container):
    """A list of Modules that the tree sees (parameters, buffers, state_dict, train/eval).

    Like ``torch.nn.ModuleList`` it has no forward of its own: the owner decides how to use
    its layers, e.g. ``for layer in self.layers: x = layer(x)``.
    """

    def __init__(self, modules=()):
        super().__init__(modules)

    def forward(self, *args):
        raise NotImplementedError("ModuleList has no forward(): iterate over it in the owner's "
                                  "forward, or use nn.Sequential to chain the modules")


class Sequential(_Container):
    """Modules applied in order; backward runs the chain rule through them in reverse."""

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], list):
            modules = modules[0]  # what __getitem__ with a slice passes
        super().__init__(modules)

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
