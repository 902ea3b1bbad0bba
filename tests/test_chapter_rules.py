"""Static rules every chapter keeps (read from the stored notebooks; nothing is executed).

No assertion on a measured time: a chapter prints how long something took, but load on the
machine (another notebook, a test run, a browser) reorders timings, so a claim asserted on them
fails for reasons that have nothing to do with the book. Counts are asserted instead.
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

CLOCKS = {"perf_counter", "perf_counter_ns", "time", "time_ns", "monotonic", "process_time"}
TIMED_KEYS = {"ms", "seconds", "minutes", "time", "elapsed", "images_per_second"}


def _is_source(node) -> bool:
    """A clock read, or a field that holds a measured time (``h.seconds``, ``r["ms"]``)."""
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        base = getattr(getattr(f, "value", None), "id", "")
        # time.perf_counter(), time.time(), ... or a clock imported by name (not time())
        return name in CLOCKS and (base == "time" or (base == "" and name != "time"))
    if isinstance(node, ast.Attribute):
        return node.attr in TIMED_KEYS
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and key.value in TIMED_KEYS
    if isinstance(node, ast.keyword):
        return node.arg in TIMED_KEYS
    return False


def _timed(node, tainted) -> bool:
    return any(_is_source(n) or (isinstance(n, ast.Name) and n.id in tainted)
               for n in ast.walk(node))


def _names(target):
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def timed_asserts(source: str) -> list[str]:
    """The assert statements of ``source`` that depend on a measured time, in order."""
    tainted, found = set(), []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _timed(node.value, tainted):
                for t in targets:
                    if isinstance(t, (ast.Name, ast.Tuple, ast.List)):
                        tainted |= _names(t)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in {"append", "extend"} \
                and isinstance(node.func.value, ast.Name) \
                and any(_timed(a, tainted) for a in node.args):
            tainted.add(node.func.value.id)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert) and _timed(node.test, tainted):
            found.append(ast.unparse(node))
    return found


def _code(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            for line in "".join(cell["source"]).splitlines():
                lines.append(re.sub(r"^(\s*)[!%].*", r"\1pass", line))
    return "\n".join(lines) + "\n"


def test_the_rule_finds_a_timed_assert():
    source = ("import time\nstart = time.perf_counter()\nx = 1\n"
              "elapsed = time.perf_counter() - start\ntimes = []\ntimes.append(elapsed)\n"
              "order = sorted(d, key=lambda n: d[n]['ms'])\n"
              "assert elapsed < 1\nassert max(times) < 2\nassert order[0] == 'a'\n"
              "assert h.seconds < 3\nassert x == 1\n")
    assert timed_asserts(source) == ["assert elapsed < 1", "assert max(times) < 2",
                                     "assert order[0] == 'a'", "assert h.seconds < 3"]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_no_chapter_asserts_on_a_measured_time(notebook):
    assert timed_asserts(_code(notebook)) == []
