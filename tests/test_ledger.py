"""The claims ledger: the one-line format, and a page that matches the chapters' stored outputs."""

import json
import re
import sys
from pathlib import Path

import pytest

from dlcore import ledger

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import claims_ledger  # noqa: E402


def test_claim_prints_one_line_in_the_fixed_format(capsys):
    assert ledger.claim("novikoff-bound", measured=3, quoted="(R/gamma)^2 = 154 at most",
                        source="Novikoff (1962)", what="perceptron updates") is None
    line = capsys.readouterr().out.rstrip("\n")
    assert line == ("claim novikoff-bound | what: perceptron updates | measured: 3 | quoted: "
                    "(R/gamma)^2 = 154 at most | source: Novikoff (1962)")
    match = ledger.LINE.match(line)
    assert match["key"] == "novikoff-bound" and match["measured"] == "3"
    assert ledger.format_value(0.123456789) == "0.1235" and ledger.format_value(61100840) == \
        "61,100,840"


@pytest.mark.parametrize("kwargs, message", [
    (dict(key="Bad Key"), "lower case"),
    (dict(quoted="a | b"), "quoted must be one non-empty line"),
    (dict(source=""), "source must be one non-empty line"),
])
def test_claim_refuses_what_would_break_the_format(kwargs, message):
    args = dict(key="k", measured=1, quoted="q", source="s", what="w") | kwargs
    with pytest.raises(ValueError, match=message):
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
        text = claims_ledger.cell_text(cell)
        assert f"measured: {r['measured']} |" in text, r["key"]
        html_id = f'id="{r["anchor"]}"'
        assert r["anchor"] and re.fullmatch(r"[a-z][a-z0-9-]*", r["anchor"]), html_id


def test_duplicate_keys_are_refused(tmp_path, monkeypatch):
    line = "claim same | what: w | measured: 1 | quoted: q | source: s\n"
    cell = {"cell_type": "code", "source": [], "id": "x",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": [line]}]}
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    for name in ("01_a", "02_b"):
        (chapters / f"{name}.ipynb").write_text(json.dumps({"cells": [cell]}))
    monkeypatch.setattr(claims_ledger, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="claim key 'same' appears twice"):
        claims_ledger.rows()
