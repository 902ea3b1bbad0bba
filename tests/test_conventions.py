"""The book's conventions (CONTRIBUTING.md), checked on every revised chapter.

A chapter joins ``REVISED`` when its revision issue lands; the before-stop hook reports the gaps
of the others. Each test reads the stored notebook only (no execution): figures numbered,
captioned, described and cited; cells and lines that fit the column; numbers in the prose that
match the outputs; widget cells that say they need a kernel; changes from the slides flagged in
the one admonition style.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import sys
from types import SimpleNamespace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
from book_fixes import _number_figures_per_chapter, chapter_label  # noqa: E402

REVISED = ("01_perceptron", "02_backprop", "03_training_deep_networks")
MAX_CELL_LINES = 25
MAX_LINE = 80
MAX_FIGURE_PX = 720  # 7 inches at 100 dpi, plus the tight bounding box's margin
NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def cells(stem):
    return json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())["cells"]


def text(cell):
    return "".join(cell["source"])


def output_text(cell):
    parts = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            parts.append("".join(o["text"]))
        elif "text/plain" in o.get("data", {}):
            parts.append("".join(o["data"]["text/plain"]))
    return "\n".join(parts)


def images(cell):
    return [o["data"]["image/png"] for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})]


def png_width(b64):
    head = base64.b64decode(b64[:64] if isinstance(b64, str) else "".join(b64)[:64])
    return struct.unpack(">I", head[16:20])[0]


def prose(stem):
    return "\n".join(text(c) for c in cells(stem) if c["cell_type"] == "markdown")


def figure_cells(stem):
    return [c for c in cells(stem) if c["cell_type"] == "code" and images(c)]


@pytest.fixture(params=REVISED)
def stem(request):
    return request.param


def test_every_figure_is_named_captioned_and_described(stem):
    label = chapter_label(f"chapters/{stem}")
    figures = figure_cells(stem)
    assert figures, f"{stem}: no figures"
    names = []
    for c in figures:
        meta = c["metadata"].get("mystnb", {})
        figure, alt = meta.get("figure", {}), meta.get("image", {}).get("alt", "")
        where = f"{stem}, cell {c.get('id')}"
        assert re.fullmatch(rf"fig-ch{label}-[a-z0-9-]+", figure.get("name", "")), where
        caption = figure.get("caption", "")
        assert len(caption) >= 30, f"{where}: a caption says what the figure shows"
        assert len(alt) >= 30 and alt != caption, f"{where}: alt text describes the picture"
        displays = [o for o in c["outputs"] if o["output_type"] in ("display_data",
                                                                    "execute_result")]
        assert len(displays) == 1, f"{where}: a captioned cell has one display output " \
                                   f"(myst-nb would wrap each in the figure)"
        names.append(figure["name"])
    assert len(set(names)) == len(names), f"{stem}: figure names repeat"
    tagged = [c for c in cells(stem) if "figure" in c["metadata"].get("mystnb", {})]
    assert len(tagged) == len(figures), f"{stem}: figure metadata on a cell with no image"


def test_every_figure_is_cited_by_its_number(stem):
    label = chapter_label(f"chapters/{stem}")
    n = len(figure_cells(stem))
    cited = {int(m) for m in re.findall(rf"Figures? {label}\.(\d+)", prose(stem))}
    cited |= {int(m) for m in re.findall(rf"Figures {label}\.\d+ and {label}\.(\d+)",
                                         prose(stem))}
    assert set(range(1, n + 1)) - cited == set(), f"{stem}: figures never cited"
    assert {k for k in cited if k > n} == set(), f"{stem}: cites a figure that is not there"


def test_figures_fit_the_column(stem):
    for c in figure_cells(stem):
        for png in images(c):
            assert png_width(png) <= MAX_FIGURE_PX, f"{stem}, cell {c.get('id')}: " \
                f"{png_width(png)} px wide; at most 7 inches (use_book_style's width)"


def test_cells_and_lines_fit_the_column(stem):
    code = [c for c in cells(stem) if c["cell_type"] == "code"]
    assert "hide-input" in code[0]["metadata"].get("tags", []), "setup cell collapsed"
    for c in code[1:]:
        lines = text(c).splitlines()
        assert len(lines) <= MAX_CELL_LINES, f"{stem}, cell {c.get('id')}: {len(lines)} lines"
    for c in code[1:]:  # the setup cell's Colab install line is one long line (sync_repo_url)
        for line in text(c).splitlines():
            assert len(line) <= MAX_LINE, f"{stem}: {len(line)} characters: {line}"


def value(token):
    return float(token.replace(",", "").replace("−", "-"))


def matches(stated, outputs):
    pct = stated.endswith("%")
    token = stated.rstrip("%")
    assert NUMBER.fullmatch(token), f"not a number: {stated!r}"
    want, places = value(token), len(token.split(".")[1]) if "." in token else 0
    for found in NUMBER.findall(outputs):
        got = value(found)
        for scaled in ((got, 100 * got) if pct else (got,)):
            if abs(round(scaled, places) - want) < 1e-9 * max(1, abs(want)):
                return True
    return False


def test_numbers_in_the_prose_match_the_outputs(stem):
    every = cells(stem)
    outputs = "\n".join(output_text(c) for c in every if c["cell_type"] == "code")
    listed = 0
    for c in every:
        states = c["metadata"].get("dlcore", {}).get("states", [])
        for stated in states:
            assert stated in text(c), f"{stem}: {stated!r} listed but not in the prose"
            assert matches(stated, outputs), f"{stem}: the prose says {stated!r}; no output does"
        listed += len(states)
    assert listed >= 10, f"{stem}: only {listed} measured numbers tied to outputs"


def test_the_prose_check_catches_a_drifted_number():
    assert matches("0.753", "loss 1.030582 -> 0.753278")
    assert matches("1.54%", "test error 0.0154")
    assert matches("1,902", "1902 test images")
    assert not matches("0.754", "loss 1.030582 -> 0.753278")
    assert matches("1.5%", "test error 0.0154") and not matches("1.7%", "0.0154 and 0.0163")


def test_widget_cells_say_they_need_a_kernel(stem):
    every = cells(stem)
    for i, c in enumerate(every):
        if c["cell_type"] == "code" and re.search(r"\binteract(ive)?\(|widgets\.",
                                                  text(c)):
            before = next(text(m) for m in reversed(every[:i]) if m["cell_type"] == "markdown")
            assert "live kernel" in before, f"{stem}, cell {c.get('id')}: say it needs one"


def test_changes_from_the_slides_are_flagged_one_way(stem):
    source = prose(stem)
    opened = re.findall(r":::\{admonition\} From the lecture\n(.*)", source)
    assert opened, f"{stem}: no 'From the lecture' admonition"
    assert all(line == ":class: from-lecture" for line in opened)
    assert "**Here:**" in source and "**Why:**" in source


def test_figures_are_numbered_per_chapter_in_page_order():
    env = SimpleNamespace(toc_fignumbers={
        "chapters/04_autoencoders": {"figure": {"b": (13,), "a": (12,)}, "table": {"t": (1,)}},
        "appendix_scaling": {"figure": {"c": (70,)}},
        "claims": {"figure": {"d": (71,)}}})
    changed = _number_figures_per_chapter(None, env)
    assert env.toc_fignumbers["chapters/04_autoencoders"] == {
        "figure": {"a": (4, 1), "b": (4, 2)}, "table": {"t": (1,)}}
    assert env.toc_fignumbers["appendix_scaling"]["figure"] == {"c": ("A", 1)}
    assert env.toc_fignumbers["claims"]["figure"] == {"d": (71,)}  # not a chapter
    assert sorted(changed) == ["appendix_scaling", "chapters/04_autoencoders"]
    assert _number_figures_per_chapter(None, env) == []  # stable once numbered
