"""Stored full runs of the book's experiments, shipped with the package.

A chapter can afford a minute or two of CPU; the claims it tests often need more seeds, steps or
settings than that. Those runs live in the repository's ``experiments/`` folder: one script per
study, with a quick mode (what a chapter may run live) and a full mode that writes a JSON file
into this package (``dlcore/stored/NAME.json``). Because the files are package data, a reader in
Colab, who installed ``dlcore`` with pip and opened one notebook, sees the same stored results as
a reader with a clone of the repository::

    from dlcore import results
    stored = results.load("resnet_depth")
    stored["meta"]["seeds"], stored["meta"]["commit"]
    results.describe(stored)      # one line of provenance, for a figure's caption

Every file carries its provenance in ``meta`` (the keys of :data:`REQUIRED_META`): the command
that produced it, the commit it ran at, the machine (processor, cores, BLAS library and kernel,
torch's CPU capability, threads), the date, the seeds, and the wall time. ``load`` refuses a file
without them, so a number in the book can always be traced to the run that produced it.
"""

from __future__ import annotations

import json
from importlib import resources

__all__ = ["REQUIRED_META", "REQUIRED_MACHINE", "StoredRunError", "names", "check", "load",
           "describe"]

#: Keys every stored run's ``meta`` holds.
REQUIRED_META = ("command", "commit", "date", "machine", "python", "torch", "numpy", "threads",
                 "seeds", "seconds")
#: Keys of ``meta["machine"]``.
REQUIRED_MACHINE = ("cpu", "cores", "blas", "torch_cpu_capability")


class StoredRunError(ValueError):
    """A stored run is missing, or lacks the provenance every stored run carries."""


def _folder():
    return resources.files("dlcore") / "stored"


def names() -> list[str]:
    """The stored runs shipped with this version of dlcore, by name (sorted)."""
    return sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".json"))


def check(stored: dict, name: str = "stored run") -> dict:
    """Raise :class:`StoredRunError` unless ``stored`` has the provenance of a stored run and
    at least one result per seed; return it unchanged."""
    meta = stored.get("meta") if isinstance(stored, dict) else None
    if not isinstance(meta, dict):
        raise StoredRunError(f"{name}: no 'meta' block; expected the provenance that "
                             f"experiments/ scripts write (re-run its full mode)")
    missing = [k for k in REQUIRED_META if meta.get(k) in (None, "", [])]
    machine = meta.get("machine")
    if isinstance(machine, dict):
        missing += [f"machine.{k}" for k in REQUIRED_MACHINE if machine.get(k) in (None, "")]
    elif "machine" not in missing:
        missing.append("machine (a dict)")
    if missing:
        raise StoredRunError(f"{name}: the provenance lacks {', '.join(missing)}; re-run the "
                             f"experiment's full mode (make experiments) to record it")
    rows = [r for key, value in stored.items() if key != "meta" and isinstance(value, list)
            for r in value]
    seeds_seen = {r.get("seed") for r in rows if isinstance(r, dict)}
    absent = [s for s in meta["seeds"] if s not in seeds_seen]
    if not rows or absent:
        raise StoredRunError(f"{name}: no per-seed results for seeds {absent or meta['seeds']}")
    return stored


def load(name: str) -> dict:
    """The stored run ``name`` (see :func:`names`) as a dict: ``meta`` plus its results."""
    known = names()
    if name not in known:
        raise StoredRunError(f"no stored run named {name!r}; this dlcore has {known}")
    text = (_folder() / f"{name}.json").read_text(encoding="utf-8")
    try:
        stored = json.loads(text)
    except json.JSONDecodeError as err:
        raise StoredRunError(f"stored run {name!r} is not valid JSON ({err}); reinstall dlcore "
                             f"or re-run its experiment") from None
    return check(stored, name)


def describe(stored: dict) -> str:
    """One line of provenance for a caption: command, seeds, machine, date, commit, time."""
    m = stored["meta"]
    mach = m["machine"]
    took = f"{m['seconds'] / 60:.0f} min" if m["seconds"] >= 60 else f"{m['seconds']} s"
    return (f"{m['command']}: {len(m['seeds'])} seeds, {mach['cpu']} ({m['threads']} threads, "
            f"{mach['blas']['kernel']} BLAS kernel), {m['date']}, commit {m['commit'][:7]}, "
            f"{took}")
