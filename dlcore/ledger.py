"""The claims ledger: every quantitative claim a chapter takes from a lecture or a paper, with
the value the book measured beside the value quoted from the source.

A chapter cell declares a row with one call, which prints one line in a fixed format::

    ledger.claim("xor-best-line", measured=3, quoted="at most 3 of 4 points",
                 source="Minsky and Papert (1969)", what="XOR points a line gets right")
    # claim xor-best-line | measured: 3 | quoted: at most 3 of 4 points | source: Minsky ...

``scripts/claims_ledger.py`` (run by ``make outputs``) reads these lines from the stored outputs
of every chapter and writes the book's *Claims ledger* page, with a link to each cell.
"""

from __future__ import annotations

import re

__all__ = ["claim", "LINE", "format_value"]

LINE = re.compile(r"^claim (?P<key>[a-z0-9][a-z0-9.-]*) \| what: (?P<what>[^|]+?) \| measured: "
                  r"(?P<measured>[^|]+?) \| quoted: (?P<quoted>[^|]+?) \| source: "
                  r"(?P<source>[^|]+?)$")


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


def claim(key: str, *, measured, quoted, source: str, what: str, digits: int = 4) -> None:
    """Print the ledger line of one claim (and return nothing, so that a cell ending with a
    claim does not show the line twice).

    ``key`` is unique in the book (lower case, digits, ``.`` and ``-``); ``measured`` is what the
    cell computed (numbers are printed with ``digits`` significant digits); ``quoted`` what the
    source says, as text; ``source`` who says it; ``what`` the quantity, in a few words.
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", key):
        raise ValueError(f"a claim key is lower case letters, digits, '.' and '-', got {key!r}")
    fields = {"what": what, "measured": format_value(measured, digits), "quoted": str(quoted),
              "source": source}
    for name, text in fields.items():
        if "|" in text or "\n" in text or not text.strip():
            raise ValueError(f"claim {key}: {name} must be one non-empty line without '|', "
                             f"got {text!r}")
    line = (f"claim {key} | what: {fields['what']} | measured: {fields['measured']} | "
            f"quoted: {fields['quoted']} | source: {fields['source']}")
    assert LINE.match(line), line
    print(line)
