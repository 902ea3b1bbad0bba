"""Checkers for the chapters' exercises: a check cell calls one with the reader's answer.

Each checker compares the answer with a reference computed *at check time*, from the book's own
code, so the solution is written nowhere on the page:

- :func:`check_module` — a layer written by the reader (forward and backward) against the
  reference layer, on fresh random inputs;
- :func:`check_function` — a function (a gradient, a feature map, an update rule) against the
  reference function, on fresh random inputs or on given ones;
- :func:`check_value` — a number (or array) against the value the reference code computes.

A check prints its verdict and returns ``True`` or ``False``: "correct", or the first mismatch
and a hint, never the solution. It never raises for a wrong or missing answer (``None``, or a
stub that raises ``NotImplementedError``), so a cell left as the book ships it shows what to do
and the notebook still runs top to bottom.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["check_module", "check_function", "check_value"]


def _say(ok: bool, message: str) -> bool:
    print(("Correct: " if ok else "Not yet: ") + message)
    return ok


def _missing(name: str) -> bool:
    print(f"No answer yet: fill in {name}, then run this cell again.")
    return False


def _first_mismatch(got, expected, rtol, atol, what, show_expected=True):
    """None if ``got`` matches ``expected``, else a sentence about the first entry that does not."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        return f"{what} has shape {got.shape}, expected {expected.shape}"
    if got.dtype.kind not in "biuf" or expected.dtype.kind not in "biuf":
        return None if np.array_equal(got, expected) else f"{what} differs"
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f"{what}[{', '.join(map(str, index))}]" if index else what
    if not show_expected:
        direction = "larger" if got[index] > expected[index] else "smaller"
        return f"{where} is {got[index]:.6g}, {direction} than the reference value"
    return f"{where} is {got[index]:.6g}, expected {expected[index]:.6g}"


def _run(answer_call, name):
    """Call the reader's code; a stub or an exception becomes a message, never a traceback."""
    try:
        return True, answer_call()
    except NotImplementedError:
        return False, _missing(name)
    except Exception as e:  # the reader's code failed: say how, and carry on
        return False, _say(False, f"{name} raised {type(e).__name__}: {e}")


def check_module(answer, reference, shape: Sequence[int], *, trials: int = 3, seed=None,
                 rtol: float = 1e-7, atol: float = 1e-10, name: str | None = None,
                 hint: str = "") -> bool:
    """Compare a reader's layer with a reference layer on ``trials`` fresh random inputs.

    ``answer`` and ``reference`` are Module classes (or factories) taking no arguments. Both
    run forward on the same float64 input, then backward on the same random upstream gradient;
    outputs and input gradients must agree within ``rtol``/``atol``.
    """
    name = name or getattr(answer, "__name__", "your layer")
    if answer is None:
        return _missing(name)
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        x = rng.standard_normal(shape) * 2
        g = rng.standard_normal(shape)
        ok, layer = _run(answer, f"{name}()")
        if not ok:
            return False
        ref = reference()
        ok, y = _run(lambda: layer(x.copy()), f"{name}.forward")
        if not ok:
            return False
        y_ref = ref(x.copy())
        problem = _first_mismatch(y, y_ref, rtol, atol, "forward output")
        if problem is None:
            ok, dx = _run(lambda: layer.backward(g.copy()), f"{name}.backward")
            if not ok:
                return False
            problem = _first_mismatch(dx, ref.backward(g.copy()), rtol, atol, "input gradient")
        if problem is not None:
            return _say(False, f"on random input {trial + 1} of {trials}, {problem}. {hint}".strip())
    return _say(True, f"{name} matches the reference forward and backward on {trials} random "
                      f"inputs of shape {tuple(shape)}.")


def check_function(answer: Callable | None, reference: Callable, inputs, *, trials: int = 3,
                   seed=None, rtol: float = 1e-7, atol: float = 1e-10,
                   name: str | None = None, hint: str = "") -> bool:
    """Compare ``answer(*args)`` with ``reference(*args)``.

    ``inputs`` is a function ``rng -> args`` (a tuple), called ``trials`` times for fresh random
    inputs, or a list of argument tuples to use as they are.
    """
    name = name or getattr(answer, "__name__", "your function")
    if answer is None:
        return _missing(name)
    rng = np.random.default_rng(seed)
    cases = [inputs(rng) for _ in range(trials)] if callable(inputs) else list(inputs)
    for i, args in enumerate(cases, start=1):
        args = args if isinstance(args, tuple) else (args,)
        ok, got = _run(lambda: answer(*[np.copy(a) for a in args]), name)
        if not ok:
            return False
        expected = reference(*[np.copy(a) for a in args])
        problem = _first_mismatch(got, expected, rtol, atol, "the result")
        if problem is not None:
            return _say(False, f"on input {i} of {len(cases)}, {problem}. {hint}".strip())
    return _say(True, f"{name} agrees with the reference on {len(cases)} input(s).")


def check_value(answer, reference: Callable, *, rtol: float = 1e-6, atol: float = 0.0,
                name: str = "your answer", hint: str = "") -> bool:
    """Compare a number (or an array) with the value ``reference()`` computes now.

    The reference value is never printed: a wrong answer is told which entry is off and in
    which direction.
    """
    if answer is None:
        return _missing(name)
    expected = reference()
    problem = _first_mismatch(answer, expected, rtol, atol, name, show_expected=False)
    if problem is not None:
        return _say(False, f"{problem}. {hint}".strip())
    return _say(True, f"{name} agrees with the value computed from the book's code.")
