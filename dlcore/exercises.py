"""Checkers for the chapters' exercises: a check cell calls one with the reader's answer.

Each checker compares the answer with a reference computed *at check time*, from the book's own
code, so the solution is written nowhere on the page:

- :func:`check_module` — a layer written by the reader (forward and backward) against the
  reference layer, on fresh random inputs;
- :func:`check_function` — a function (a gradient, a feature map, an update rule) against the
  reference function, on fresh random inputs or on given ones;
- :func:`check_value` — a number (or array) against the value the reference code computes.

**The contract: a verdict, never the solution, never raise.** A check prints one verdict and
returns ``True`` or ``False``. The verdict starts with ``Correct:``, ``Not yet:`` (the answer
is wrong, raised, or ran too long), ``No answer yet:`` (``None``, or a stub that raises
``NotImplementedError``) or ``Cannot check:`` (the book's reference failed: a bug in the book).

- *Never the solution.* A wrong answer is told how it is wrong — its shape, its kind (a tuple
  where an array is expected, text where a number is), a ragged list, the wrong sign, off by
  the same factor everywhere, ``nan`` where the reference is finite, or which entry first
  differs and whether it is larger or smaller — but no reference value is ever printed. The
  reader's own values may be.
- *Never raise.* Any ``Exception`` from the reader's code (or from reading its result: a tensor
  that requires grad, a ragged list, an object whose ``__str__`` raises) becomes a verdict, so a
  notebook still runs top to bottom. ``KeyboardInterrupt`` (the stop button) still stops it.
- *Arguments as given.* The answer and the reference get the same arguments, each its own copy
  of every NumPy array and torch tensor (inside tuples, lists and dicts too), so an answer that
  writes into its input cannot change what the reference sees; ints, floats, strings and
  functions are passed as they are.
- *Bounded output.* What the answer prints is captured while it runs and shown before the
  verdict, cut to its first lines with a note of how much was left out. What the reference
  prints is not shown (it could give the solution away).
- *A time limit.* Each call into the reader's code, and each call into the reference, is stopped
  after ``timeout`` seconds (default 10, or the environment variable ``DLCORE_CHECK_TIMEOUT``;
  ``0`` turns the limit off) with a verdict that says so. The limit is a ``SIGALRM`` timer, the
  only way to stop code that is a closure over the notebook's state (a subprocess could not
  see it). So it applies only where that timer exists and can be used: in the main thread
  (where Jupyter and Colab run cells) on Linux and macOS. In another thread, or on Windows,
  the check runs without a limit. And Python runs the timer's handler only between bytecodes:
  a long call into C code (a huge NumPy product, a blocking read) is stopped only once it
  returns, and an answer whose bare ``except:`` swallows the stop is not stopped. A timer or
  ``SIGALRM`` handler the notebook had set is restored afterwards. Output written by C code
  straight to the terminal is not captured.

A reference that raises or runs out of time is the book's bug: the verdict says so plainly
(``Cannot check: the book's reference raised ...``) and the check returns ``False``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["check_module", "check_function", "check_value"]

DEFAULT_TIMEOUT = 10.0  # seconds per call, when neither timeout= nor DLCORE_CHECK_TIMEOUT says
_OUTPUT_LINES, _OUTPUT_CHARS = 20, 2000  # how much of the answer's printing is shown
_MESSAGE_CHARS = 300  # how much of an exception's message is shown


# -- verdicts -------------------------------------------------------------------------------

def _say(ok: bool, message: str) -> bool:
    print(("Correct: " if ok else "Not yet: ") + message)
    return ok


def _missing(name: str) -> bool:
    print(f"No answer yet: fill in {name}, then run this cell again.")
    return False


def _book_bug(message: str) -> bool:
    print(f"Cannot check: {message}; this is a bug in the book, not in your answer, "
          "please report it.")
    return False


def _text(value, limit: int = _MESSAGE_CHARS) -> str:
    """``str(value)`` cut to ``limit`` characters, or a placeholder if ``__str__`` raises."""
    try:
        text = str(value)
    except Exception:
        return f"<a {_type_name(value)} that cannot be shown>"
    return text if len(text) <= limit else text[:limit] + " ..."


def _type_name(value) -> str:
    try:
        return type(value).__name__
    except Exception:  # a metaclass that misbehaves
        return "object"


def _error(e: BaseException) -> str:
    message = _text(e)
    return f"{_type_name(e)}: {message}" if message else _type_name(e)


def _name_of(answer, default: str) -> str:
    try:  # getattr runs the reader's __getattr__, if any
        name = getattr(answer, "__name__", None)
    except Exception:
        return default
    return name if isinstance(name, str) else default


# -- running code: time limit, captured output ------------------------------------------------

class _TimeUp(BaseException):
    """Raised by the timer. Not an Exception, so an answer's ``except Exception`` cannot eat it."""


def _timeout(timeout) -> float:
    """Seconds per call; 0 means no limit. A value that is not a number (in timeout= or in
    DLCORE_CHECK_TIMEOUT) gives the default rather than an error."""
    if timeout is None:
        timeout = os.environ.get("DLCORE_CHECK_TIMEOUT", DEFAULT_TIMEOUT)
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT
    return timeout if 0 < timeout < math.inf else 0.0


def _can_time() -> bool:
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


def _within(seconds: float, call: Callable):
    """``call()``, interrupted by _TimeUp after ``seconds``; any previous timer is restored."""
    if not seconds or not _can_time():
        return call()
    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:  # a late alarm, after the call returned, is ignored
            raise _TimeUp

    start = time.monotonic()
    try:
        previous = signal.signal(signal.SIGALRM, on_alarm)
    except (ValueError, OSError):  # e.g. an embedded interpreter that owns the signals
        return call()
    delay, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        try:
            return call()
        finally:
            armed[0] = False
    finally:  # nested, so the restore runs even if the one alarm lands in the line above
        signal.setitimer(signal.ITIMER_REAL, 0)
        if previous is not None:  # None: a handler set outside Python; ours, disarmed, stays
            signal.signal(signal.SIGALRM, previous)
        if delay:  # someone else's timer: give back what was left of it
            left = max(delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


class _Capped(io.TextIOBase):
    """A stdout that keeps the first characters written to it and counts the rest."""

    def __init__(self):
        super().__init__()
        self.kept, self.chars, self.lines = [], 0, 0

    def writable(self):
        return True

    def write(self, s):
        s = s if isinstance(s, str) else _text(s)
        room = _OUTPUT_CHARS - min(self.chars, _OUTPUT_CHARS)
        if room:
            self.kept.append(s[:room])
        self.chars += len(s)
        self.lines += s.count("\n")
        return len(s)

    def shown(self) -> str:
        """The first lines written, with a note of how much was cut; '' if nothing was."""
        text = "".join(self.kept)
        head = "".join(text.splitlines(keepends=True)[:_OUTPUT_LINES])
        if len(head) == self.chars:
            return text
        cut_lines = self.lines - head.count("\n")
        return (head.rstrip("\n") + f"\n[... output cut: {self.chars - len(head):,} more "
                f"characters ({cut_lines:,} more lines) not shown]\n")


def _guarded(call: Callable, seconds: float, output: _Capped):
    """Run ``call()`` with its printing sent to ``output``: (status, value, exception), where
    status is 'ok', 'missing' (NotImplementedError), 'raised' or 'timeout'."""
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            return "ok", _within(seconds, call), None
    except _TimeUp:
        return "timeout", None, None
    except NotImplementedError as e:
        return "missing", None, e
    except Exception as e:  # KeyboardInterrupt and SystemExit are not Exceptions: they go on
        return "raised", None, e


class _Check:
    """One check: its time limit, and the answer's output, shown before the verdict."""

    def __init__(self, timeout):
        self.seconds = _timeout(timeout)
        self.output = _Capped()

    def verdict(self, ok: bool, message: str) -> bool:
        self.show_output()
        return _say(ok, message)

    def show_output(self):
        shown, self.output = self.output.shown(), _Capped()
        if shown:
            print(shown, end="" if shown.endswith("\n") else "\n")

    def answer(self, call: Callable, label: str):
        """(True, value) from the reader's code, or (False, None) once the verdict is printed."""
        status, value, error = _guarded(call, self.seconds, self.output)
        if status == "ok":
            return True, value
        self.show_output()
        if status == "missing":
            _missing(label)
        elif status == "timeout":
            _say(False, f"{label} was stopped after {self.seconds:g} s without finishing; look "
                        "for a loop that never ends (or pass a larger timeout=).")
        else:
            _say(False, f"{label} raised {_error(error)}")
        return False, None

    def reference(self, call: Callable, label: str = "the book's reference"):
        """(True, value) from the book's code, or (False, None) once it is reported as a bug."""
        status, value, error = _guarded(call, self.seconds, _Capped())  # its printing is hidden
        if status == "ok":
            return True, value
        self.show_output()
        if status == "timeout":
            _book_bug(f"{label} did not finish within {self.seconds:g} s and was stopped (on a "
                      "slow machine, raise the limit with timeout= or DLCORE_CHECK_TIMEOUT)")
        else:
            _book_bug(f"{label} raised {_error(error)}")
        return False, None

    def compare(self, got, expected, rtol, atol, what):
        """None if they agree, else a sentence that says how ``got`` differs. Reading the answer
        runs its code (``__array__``, ``__len__``, ``__eq__``...), hence the guard."""
        status, problem, error = _guarded(lambda: _mismatch(got, expected, rtol, atol, what),
                                          self.seconds, self.output)
        if status == "ok":
            return problem
        if status == "timeout":
            return f"reading {what} did not finish within {self.seconds:g} s"
        return f"{what} could not be compared with the reference ({_error(error)})"


def _isolated(value):
    """A copy of every array and tensor in ``value`` (through tuples, lists and dicts); other
    values as they are, so an int stays an int."""
    if isinstance(value, np.ndarray):
        return value.copy()
    torch = sys.modules.get("torch")  # no tensor can exist unless torch was imported
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, (tuple, list)):
        return _rebuild(value, [_isolated(v) for v in value])
    if isinstance(value, dict):
        new = copy.copy(value)  # keeps the dict's class (OrderedDict, defaultdict...)
        for key in value:
            new[key] = _isolated(value[key])
        return new
    return value


def _rebuild(sequence, items):
    """A tuple or list of the same class as ``sequence`` holding ``items`` (a plain tuple or
    list if that class cannot be built from them)."""
    try:
        if isinstance(sequence, tuple) and hasattr(sequence, "_fields"):  # a namedtuple
            return type(sequence)(*items)
        return type(sequence)(items)
    except Exception:
        return tuple(items) if isinstance(sequence, tuple) else list(items)


# -- comparing, without showing the reference -------------------------------------------------

def _plain(value):
    """Tensors become NumPy arrays (detached, on the CPU), also inside tuples and lists."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        try:
            return value.numpy()
        except (TypeError, RuntimeError):  # a dtype NumPy lacks, such as bfloat16
            return value.double().numpy()
    if isinstance(value, (tuple, list)):
        return _rebuild(value, [_plain(v) for v in value])
    return value


def _as_array(value):
    """``np.asarray(value)``, or None for a ragged list or tuple (entries of different
    lengths); any other failure to convert is raised, to be reported as it is."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError):
        if isinstance(value, (tuple, list)):
            return None
        raise


def _numeric(a: np.ndarray) -> bool:
    return a.dtype.kind in "biufc"


def _describe(value) -> str:
    """What a value is, without its numbers (for the reference) or its str (for the reader)."""
    if isinstance(value, np.ndarray) and value.shape == () and not _numeric(value):
        value = value.item()  # the text or object np.asarray wrapped
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return f"a {_type_name(value)} of {len(value)} entries"
    if isinstance(value, (np.ndarray, np.generic, int, float, complex)):
        a = np.asarray(value)
        if _numeric(a):
            return "a single number" if a.shape == () else f"an array of shape {a.shape}"
        return f"an array of {a.dtype.name} values"
    return f"a value of type {_type_name(value)}"


def _mismatch(got, expected, rtol, atol, what):
    """None if ``got`` matches ``expected``, else a sentence saying how, never with a value of
    ``expected``."""
    got, expected = _plain(got), _plain(expected)
    if isinstance(expected, (tuple, list)) and (
            isinstance(got, (tuple, list)) or _as_array(expected) is None):
        return _sequence_mismatch(got, expected, rtol, atol, what)  # e.g. two arrays' updates
    if got is None or expected is None:
        return None if got is expected else f"{what} is {_describe(got)}, expected " \
                                             f"{_describe(expected)}"
    # A tuple is several results returned together: an array in its place is the wrong kind.
    # A list (or tuple) where an array is expected is read as an array, as np.asarray would.
    if isinstance(expected, tuple):
        return f"{what} is {_describe(got)}, expected {_describe(expected)}"
    got_array = _as_array(got)
    if got_array is None:
        return (f"{what} is a ragged {_type_name(got)} (its entries have different lengths), "
                f"expected {_describe(expected)}")
    return _array_mismatch(got_array, _as_array(expected), rtol, atol, what)


def _sequence_mismatch(got, expected, rtol, atol, what):
    if not isinstance(got, (tuple, list)):
        return f"{what} is {_describe(got)}, expected {_describe(expected)}"
    if len(got) != len(expected):
        return f"{what} has {len(got)} entries, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        problem = _mismatch(g, e, rtol, atol, f"{what}[{i}]")
        if problem is not None:
            return problem
    return None


def _array_mismatch(got, expected, rtol, atol, what):
    if not _numeric(expected):  # text, objects: equal or not, nothing more to say
        if _numeric(got):
            return f"{what} is {_describe(got)}, expected {_describe(expected)}"
        equal = got.shape == expected.shape and bool(np.array_equal(got, expected))
        return None if equal else f"{what} differs from the reference"
    if not _numeric(got):
        return f"{what} is {_describe(got)}, expected {_describe(expected)}"
    if got.dtype.kind == "c" and expected.dtype.kind != "c":
        return f"{what} has complex entries, expected real numbers"
    # float64 (complex128) for the arithmetic: no bool subtraction, no unsigned -x
    got64, expected64 = (np.asarray(a, np.result_type(a, np.float64)) for a in (got, expected))
    if got.shape != expected.shape:
        return _shape_mismatch(got64, expected64, rtol, atol, what)
    bad = ~np.isclose(got64, expected64, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f"{what}[{', '.join(map(str, index))}]" if index else what
    problem = _entry_mismatch(got[index], got64[index], expected64[index], where)
    if got.size > 1:
        problem += f" ({int(bad.sum())} of {got.size} entries differ)"
    pattern = _pattern(got64, expected64, rtol, atol)
    return f"{problem}; {pattern}" if pattern else problem


def _entry_mismatch(shown, g, e, where):
    """How the reader's entry ``shown`` (``g`` as float) differs from ``e``, not saying ``e``."""
    if np.isnan(g) and np.isfinite(e):
        return f"{where} is nan where the reference value is finite"
    if isinstance(shown, np.bool_) or np.iscomplexobj(g) or not (g > e or g < e):
        return f"{where} is {_number(shown)}, not the reference value"  # no order to tell
    return f"{where} is {_number(shown)}, {'larger' if g > e else 'smaller'} than the " \
           "reference value"


def _number(x) -> str:
    """The reader's own number, whole numbers in full (a count off by one must show)."""
    if isinstance(x, (np.bool_, np.integer)):
        return str(x.item())
    if np.isrealobj(x) and np.isfinite(x) and x == np.round(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _shape_mismatch(got, expected, rtol, atol, what):
    if got.shape == ():
        return f"{what} is a single number, expected an array of shape {expected.shape}"
    if expected.shape == ():
        return f"{what} is an array of shape {got.shape}, expected a single number"
    problem = f"{what} has shape {got.shape}, expected {expected.shape}"
    if got.ndim == 2 and got.T.shape == expected.shape and \
            np.allclose(got.T, expected, rtol=rtol, atol=atol, equal_nan=True):
        problem += " (its transpose matches: rows and columns are swapped)"
    return problem


def _pattern(got, expected, rtol, atol):
    """The wrong sign, zero everywhere, or the same factor everywhere: a hint about the whole
    array that names no reference value (so the factor itself is not given)."""
    if got.size < 2 or not np.all(np.isfinite(got)) or not np.all(np.isfinite(expected)):
        return None
    nonzero = expected != 0
    if nonzero.any() and np.allclose(got, -expected, rtol=rtol, atol=atol):
        return "it has the opposite sign of the reference everywhere"
    if not got.any():
        return "it is zero everywhere"
    ratio = got[nonzero] / expected[nonzero]
    if nonzero.sum() >= 2 and np.allclose(got[~nonzero], 0, atol=atol) and \
            np.allclose(ratio, ratio[0]) and abs(ratio[0]) != 0:
        direction = "larger" if abs(ratio[0]) > 1 else "smaller"
        return f"every entry is {direction} than the reference by the same factor"
    return None


# -- the checkers -----------------------------------------------------------------------------

def check_module(answer, reference, shape: Sequence[int], *, trials: int = 3, seed=None,
                 rtol: float = 1e-7, atol: float = 1e-10, name: str | None = None,
                 hint: str = "", timeout: float | None = None) -> bool:
    """Compare a reader's layer with a reference layer on ``trials`` fresh random inputs.

    ``answer`` and ``reference`` are Module classes (or factories) called with no arguments.
    Both run forward on the same float64 input, then backward on the same random upstream
    gradient, each on its own copy; outputs and input gradients must agree within
    ``rtol``/``atol``. Prints a verdict and returns whether the layer is right; never raises
    and never prints the reference's values (see the module's contract). ``timeout`` limits
    each call (construction, forward, backward), in seconds: ``None`` for the default (10, or
    ``DLCORE_CHECK_TIMEOUT``), ``0`` for no limit.
    """
    name = name or _name_of(answer, "your layer")
    if answer is None:
        return _missing(name)
    check = _Check(timeout)
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        ok, xg = check.reference(lambda: (rng.standard_normal(shape) * 2,
                                          rng.standard_normal(shape)), "the book's inputs")
        if not ok:
            return False
        problem = _check_layer_once(check, answer, reference, *xg, rtol, atol, name)
        if problem is False:  # the verdict is printed already
            return False
        if problem is not None:
            return check.verdict(False, f"on random input {trial + 1} of {trials}, {problem}. "
                                        f"{hint}".strip())
    return check.verdict(True, f"{name} matches the reference forward and backward on "
                               f"{trials} random inputs of shape {tuple(np.atleast_1d(shape))}.")


def _check_layer_once(check, answer, reference, x, g, rtol, atol, name):
    """None if forward and backward agree, a sentence if not, False once a verdict is out."""
    pair = _both(check, answer, f"{name}()", reference, "the book's reference layer")
    if pair is None:
        return False
    layer, ref = pair
    pair = _both(check, lambda: layer(x.copy()), f"{name}.forward",
                 lambda: ref(x.copy()), "the book's reference forward")
    if pair is None:
        return False
    problem = check.compare(*pair, rtol, atol, "forward output")
    if problem is not None:
        return problem
    pair = _both(check, lambda: layer.backward(g.copy()), f"{name}.backward",
                 lambda: ref.backward(g.copy()), "the book's reference backward")
    if pair is None:
        return False
    return check.compare(*pair, rtol, atol, "input gradient")


def _both(check, answer_call, label, reference_call, reference_label="the book's reference"):
    """(answer's value, reference's value), or None once a verdict is printed. The answer runs
    first, so a stub says "No answer yet" without waiting for the reference."""
    ok, got = check.answer(answer_call, label)
    if not ok:
        return None
    ok, expected = check.reference(reference_call, reference_label)
    return (got, expected) if ok else None


def check_function(answer: Callable | None, reference: Callable, inputs, *, trials: int = 3,
                   seed=None, rtol: float = 1e-7, atol: float = 1e-10,
                   name: str | None = None, hint: str = "",
                   timeout: float | None = None) -> bool:
    """Compare ``answer(*args)`` with ``reference(*args)``.

    ``inputs`` is a function ``rng -> args`` (a tuple), called ``trials`` times for fresh random
    inputs, or a list of argument tuples to use as they are. Each of ``answer`` and
    ``reference`` gets the arguments as given — an int stays an int — with its own copy of
    every array and tensor. Results are compared entry by entry (tuples and lists of results
    entry by entry too; tensors after ``.detach().cpu()``). Prints a verdict and returns whether
    the answer agrees on every input; never raises and never prints the reference's values
    (see the module's contract). ``timeout`` limits each call, in seconds: ``None`` for the
    default (10, or ``DLCORE_CHECK_TIMEOUT``), ``0`` for no limit.
    """
    name = name or _name_of(answer, "your function")
    if answer is None:
        return _missing(name)
    check = _Check(timeout)
    rng = np.random.default_rng(seed)
    ok, cases = check.reference(
        lambda: [inputs(rng) for _ in range(trials)] if callable(inputs) else list(inputs),
        "the book's inputs")
    if not ok:
        return False
    for i, args in enumerate(cases, start=1):
        args = args if isinstance(args, tuple) else (args,)
        pair = _both(check, lambda: answer(*_isolated(args)), name,
                     lambda: reference(*_isolated(args)))
        if pair is None:
            return False
        problem = check.compare(*pair, rtol, atol, "the result")
        if problem is not None:
            return check.verdict(False, f"on input {i} of {len(cases)}, {problem}. "
                                        f"{hint}".strip())
    return check.verdict(True, f"{name} agrees with the reference on {len(cases)} input(s).")


def check_value(answer, reference: Callable, *, rtol: float = 1e-6, atol: float = 0.0,
                name: str = "your answer", hint: str = "",
                timeout: float | None = None) -> bool:
    """Compare a number (or an array, a tuple, a tensor) with the value ``reference()``
    computes now.

    Prints a verdict and returns whether they agree within ``rtol``/``atol``; never raises.
    The reference value is never printed: a wrong answer is told which entry is off and in
    which direction (see the module's contract). ``timeout`` limits the reference's run, in
    seconds: ``None`` for the default (10, or ``DLCORE_CHECK_TIMEOUT``), ``0`` for no limit.
    """
    if answer is None:
        return _missing(name)
    check = _Check(timeout)
    ok, expected = check.reference(reference)
    if not ok:
        return False
    problem = check.compare(answer, expected, rtol, atol, name)
    if problem is not None:
        return check.verdict(False, f"{problem}. {hint}".strip())
    return check.verdict(True, f"{name} agrees with the value computed from the book's code.")
