"""The claims ledger: the one-line format, and a page that matches the chapters' stored outputs."""

import json
import re
import sys
from pathlib import Path

import pytest

from dlcore import ledger, stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import claims_ledger  # noqa: E402


def test_claim_shows_a_short_line_outside_a_notebook(capsys):
    assert ledger.claim("novikoff-bound", measured=3, quoted="(R/gamma)^2 = 154 at most",
                        source="Novikoff (1962)", what="perceptron updates") is None
    assert capsys.readouterr().out == "ledger novikoff-bound: no verdict yet (Claims ledger)\n"
    assert ledger.format_value(0.123456789) == "0.1235" and ledger.format_value(61100840) == \
        "61,100,840"


def test_claim_in_a_kernel_displays_the_short_line_with_the_full_row(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    monkeypatch.setattr("IPython.display.display", lambda obj, raw: shown.append((obj, raw)))
    ledger.claim("k", measured=0.5, quoted="q", source="s", what="w", expected=0.5)
    (bundle, raw), = shown
    assert raw and bundle["text/plain"] == "ledger k: equal (Claims ledger)"
    assert len(bundle["text/plain"]) <= 80
    assert bundle[ledger.MIME] == {"key": "k", "what": "w", "measured": "0.5", "quoted": "q",
                                   "source": "s", "verdict": "equal",
                                   "basis": "0.5 vs 0.5 (exact)"}


def _verdict(**kwargs):
    return ledger.row("k", quoted="q", source="s", what="w", **kwargs)["verdict"]


def test_the_verdict_is_read_off_a_comparison_never_typed():
    better = [0.30, 0.28, 0.31, 0.29, 0.30]
    worse = [0.20, 0.21, 0.19, 0.20, 0.22]
    noisy = [0.31, 0.19, 0.29, 0.21, 0.25]
    assert _verdict(measured=0.1, comparison=stats.compare_paired(
        better, worse, expected="greater")) == "reproduced"
    assert _verdict(measured=0.1, comparison=stats.compare_paired(
        better, worse, expected="less")) == "reversed"
    assert _verdict(measured=0.0, comparison=stats.compare_paired(
        noisy, [0.25] * 5, expected="greater")) == "not shown at this scale"
    assert _verdict(measured=7, comparison=stats.compare_proportions(
        (9, 10), (1, 10), expected="greater")) == "reproduced"
    for verdict in stats.VERDICTS:
        assert ledger.VERDICT_OF_COMPARISON[verdict] in ledger.VERDICTS


def test_exact_values_are_equal_or_differ_and_quotes_are_quoted():
    assert _verdict(measured=3, expected=3) == "equal"
    assert _verdict(measured=4, expected=3) == "differs"
    assert _verdict(measured=0.1 + 0.2, expected=0.3) == "differs"
    assert _verdict(measured=0.1 + 0.2, expected=0.3, tolerance=1e-12) == "equal"
    assert _verdict(measured=None) == "quoted"
    assert _verdict(measured="3.2 ms") == "no verdict yet"


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(key="Bad Key"), ValueError, "lower case"),
    (dict(quoted="a | b"), ValueError, "quoted must be one non-empty line"),
    (dict(source=""), ValueError, "source must be one non-empty line"),
    (dict(expected=1, comparison=stats.compare_paired([1, 2], [0, 0], expected="greater")),
     ValueError, "not both"),
    (dict(comparison="holds"), TypeError, "dlcore.stats"),
    (dict(measured="three", expected=3), TypeError, "must be a number"),
    (dict(expected=1, tolerance=-1), ValueError, "tolerance"),
])
def test_claim_refuses_what_would_break_the_ledger(kwargs, error, message):
    args = dict(key="k", measured=1, quoted="q", source="s", what="w") | kwargs
    with pytest.raises(error, match=message):
        ledger.claim(args.pop("key"), **args)


def test_the_ledger_page_is_up_to_date_with_the_stored_outputs():
    assert claims_ledger.main(check=True) == 0, "run: python scripts/claims_ledger.py"


def test_every_row_points_at_a_cell_showing_its_measured_value():
    rows = json.loads((ROOT / "ledger" / "claims.json").read_text())
    assert len(rows) >= 10
    assert len({r["key"] for r in rows}) == len(rows)
    for r in rows:
        cell = json.loads((ROOT / "chapters" / f"{r['chapter']}.ipynb").read_text())["cells"][
            r["cell"]]
        assert cell.get("id") == r["cell_id"], r["key"]
        assert any(e["key"] == r["key"] and e["measured"] == r["measured"]
                   and e["verdict"] == r["verdict"]
                   for e in claims_ledger.cell_rows(cell)), r["key"]
        assert f"ledger {r['key']}: {r['verdict']}" in claims_ledger.cell_text(cell)
        html_id = f'id="{r["anchor"]}"'
        assert r["anchor"] and re.fullmatch(r"[a-z][a-z0-9-]*", r["anchor"]), html_id


def test_duplicate_keys_are_refused(tmp_path, monkeypatch):
    entry = ledger.row("same", measured=1, quoted="q", source="s", what="w")
    cell = {"cell_type": "code", "source": [], "id": "x",
            "outputs": [{"output_type": "display_data", "metadata": {},
                         "data": {"text/plain": "ledger same", ledger.MIME: entry}}]}
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    for name in ("01_a", "02_b"):
        (chapters / f"{name}.ipynb").write_text(json.dumps({"cells": [cell]}))
    monkeypatch.setattr(claims_ledger, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="claim key 'same' appears twice"):
        claims_ledger.rows()
