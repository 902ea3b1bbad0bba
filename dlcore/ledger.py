"""The claims ledger: every quantitative claim a chapter takes from a lecture or a paper, with
the value the book measured beside the value quoted from the source, and a verdict that no one
types by hand.

A chapter cell declares a row with one call::

    ledger.claim("xor-best-line", measured=3, quoted="at most 3 of 4 points",
                 source="Minsky and Papert (1969)", what="XOR points a line gets right",
                 expected=3)
    # ledger xor-best-line: equal (Claims ledger)

The verdict comes from what the call is given:

==============================  =================================================================
given                           verdict
==============================  =================================================================
``comparison=`` (dlcore.stats)  ``holds`` → "reproduced", ``reversed`` → "reversed",
                                ``within noise`` → "not shown at this scale"
``expected=`` (an exact count   "equal" when ``measured`` equals ``expected`` (within
or a worked example)            ``tolerance``), else "differs"
``measured=None``               "quoted": the book only quotes the number
none of these                   "no verdict yet" (a row its chapter has not yet revised)
==============================  =================================================================

The cell shows one short line (it fits the column); the full row travels in the same output as
a JSON mime bundle (:data:`MIME`), which ``scripts/claims_ledger.py`` (run by ``make outputs``)
reads from the stored outputs of every chapter to write the book's *Claims ledger* page.
Jupyter, Colab and the book show the short line; nbval compares both.
"""

from __future__ import annotations

import math
import re

__all__ = ["claim", "row", "format_value", "MIME", "VERDICT_OF_COMPARISON", "VERDICTS"]

#: The mime type of the full row in a claim's output.
MIME = "application/vnd.dlcore.claim+json"
#: How a :class:`dlcore.stats.Comparison`'s verdict reads in the ledger.
VERDICT_OF_COMPARISON = {"holds": "reproduced", "reversed": "reversed",
                         "within noise": "not shown at this scale"}
#: Every verdict a row can carry.
VERDICTS = (*VERDICT_OF_COMPARISON.values(), "equal", "differs", "quoted", "no verdict yet")
_KEY = re.compile(r"[a-z0-9][a-z0-9.-]*")


def format_value(value, digits: int = 4) -> str:
    """Numbers with ``digits`` significant digits (integers in full, with thousands
    separators); anything else as ``str``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
            value, "dtype"):
        return str(value)
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def _number(value, what: str):
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number to compare with expected=, got {value!r}")
    return value


def _verdict(measured, comparison, expected, tolerance) -> tuple[str, str]:
    """(verdict, basis): the basis says in a few words what the verdict was read from."""
    if comparison is not None and expected is not None:
        raise ValueError("give a claim either comparison= (a dlcore.stats comparison) or "
                         "expected= (an exact value), not both")
    if comparison is not None:
        verdict = getattr(comparison, "verdict", None)
        if verdict not in VERDICT_OF_COMPARISON:
            raise TypeError(f"comparison= takes what dlcore.stats.compare_paired or "
                            f"compare_proportions returns, got {comparison!r}")
        return VERDICT_OF_COMPARISON[verdict], str(comparison)
    if expected is not None:
        got, want = _number(measured, "measured"), _number(expected, "expected")
        if not tolerance >= 0:
            raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
        same = math.isclose(got, want, rel_tol=0, abs_tol=tolerance)
        basis = f"{format_value(got)} vs {format_value(want)}" + (
            f" (tolerance {tolerance:g})" if tolerance else " (exact)")
        return ("equal" if same else "differs"), basis
    if measured is None:
        return "quoted", "the book quotes this number; it does not measure it"
    return "no verdict yet", "measured; not yet compared under dlcore.stats"


def row(key: str, *, measured, quoted, source: str, what: str, digits: int = 4,
        comparison=None, expected=None, tolerance: float = 0.0) -> dict:
    """The ledger row :func:`claim` shows, as a dict (checks as :func:`claim` does)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"a claim key is lower case letters, digits, '.' and '-', got {key!r}")
    verdict, basis = _verdict(measured, comparison, expected, tolerance)
    fields = {"what": what, "measured": "—" if measured is None else
              format_value(measured, digits), "quoted": str(quoted), "source": source}
    for name, text in fields.items():
        if not isinstance(text, str) or "|" in text or "\n" in text or not text.strip():
            raise ValueError(f"claim {key}: {name} must be one non-empty line without '|', "
                             f"got {text!r}")
    return {"key": key, **fields, "verdict": verdict, "basis": basis}


def claim(key: str, *, measured, quoted, source: str, what: str, digits: int = 4,
          comparison=None, expected=None, tolerance: float = 0.0) -> None:
    """Show one claim's short ledger line, with its full row attached (returns nothing).

    ``key`` is unique in the book (lower case, digits, ``.`` and ``-``); ``measured`` is what the
    cell computed (numbers shown with ``digits`` significant digits; None for a number the book
    only quotes); ``quoted`` what the source says, as text; ``source`` who says it; ``what`` the
    quantity, in a few words. The verdict comes from ``comparison`` or ``expected`` (see the
    module's table), never from the caller's words.
    """
    entry = row(key, measured=measured, quoted=quoted, source=source, what=what,
                digits=digits, comparison=comparison, expected=expected, tolerance=tolerance)
    line = f"ledger {key}: {entry['verdict']} (Claims ledger)"
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None:
        print(line)
        return
    from IPython.display import display
    display({"text/plain": line, MIME: entry}, raw=True)
