"""Stored runs: every file complete, one per experiment, read through dlcore.results only."""

import json
import re
from pathlib import Path

import pytest

from dlcore import results

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "experiments").glob("*.py")
                     if not p.name.startswith("_"))


def test_every_experiment_has_a_stored_run_and_a_table():
    assert EXPERIMENTS and results.names() == EXPERIMENTS
    for name in EXPERIMENTS:
        assert (ROOT / "experiments" / f"{name}.md").exists(), name
        source = (ROOT / "experiments" / f"{name}.py").read_text()
        assert "--quick" in source and "provenance(" in source, name


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_stored_run_carries_its_provenance(name):
    stored = results.load(name)
    meta = stored["meta"]
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", meta["commit"]), meta["commit"]
    assert meta["command"] == f"python experiments/{name}.py"  # the full mode
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", meta["date"])
    assert meta["machine"]["cores"] >= 1 and meta["machine"]["blas"]["kernel"]
    assert len(meta["seeds"]) >= 3 and meta["seconds"] > 0
    assert f"{len(meta['seeds'])} seeds" in results.describe(stored)


def test_the_table_beside_it_names_the_same_run():
    for name in EXPERIMENTS:
        meta = results.load(name)["meta"]
        table = (ROOT / "experiments" / f"{name}.md").read_text()
        assert f"commit {meta['commit'][:7]}" in table and meta["date"] in table, name


def test_chapters_read_stored_runs_through_dlcore_only():
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            assert "../benchmarks" not in source and "../experiments" not in source and \
                "dlcore/stored" not in source, f"{path.name}: read with dlcore.results.load"


def _fake_stored(tmp_path, monkeypatch, name, payload):
    folder = tmp_path / "stored"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(payload)
    monkeypatch.setattr(results, "_folder", lambda: folder)


def _meta(**changes):
    meta = dict(command="python experiments/x.py", commit="a" * 40, date="2026-12-02",
                machine=dict(cpu="CPU", cores=2, blas=dict(kernel="Haswell"),
                             torch_cpu_capability="AVX2"),
                python="3.11", torch="2.13.0", numpy="2.1", threads=2, seeds=[0, 1],
                seconds=10)
    return meta | changes


def test_load_refuses_a_run_without_provenance(tmp_path, monkeypatch):
    _fake_stored(tmp_path, monkeypatch, "x", json.dumps(
        {"meta": _meta(commit=""), "runs": [{"seed": 0}, {"seed": 1}]}))
    with pytest.raises(results.StoredRunError, match="lacks commit.*make experiments"):
        results.load("x")


def test_load_refuses_missing_seeds_unknown_names_and_bad_json(tmp_path, monkeypatch):
    _fake_stored(tmp_path, monkeypatch, "x", json.dumps(
        {"meta": _meta(), "runs": [{"seed": 0}]}))
    with pytest.raises(results.StoredRunError, match=r"no per-seed results for seeds \[1\]"):
        results.load("x")
    with pytest.raises(results.StoredRunError, match="no stored run named 'y'.*'x'"):
        results.load("y")
    _fake_stored(tmp_path, monkeypatch, "x", "{not json")
    with pytest.raises(results.StoredRunError, match="not valid JSON"):
        results.load("x")


def test_a_complete_run_loads_and_describes_itself(tmp_path, monkeypatch):
    _fake_stored(tmp_path, monkeypatch, "x", json.dumps(
        {"meta": _meta(), "runs": [{"seed": 0}, {"seed": 1}]}))
    line = results.describe(results.load("x"))
    assert line == ("python experiments/x.py: 2 seeds, CPU (2 threads, Haswell BLAS kernel), "
                    "2026-12-02, commit aaaaaaa, 10 s")
