"""Colab as it is: the chapters' first cell installs dlcore into Colab's own package set without
changing any of it, and every chapter then runs there.

The environment is built from colab/versions.txt (Colab's published versions) in .colab-venv/,
on this machine's Python with the CPU torch of constraints.txt (see that file for why), and
reused while colab/versions.txt and constraints.txt are unchanged and nothing but dlcore was
added to it. Building it takes about a minute and 1.6 GB; installing dlcore and executing the
chapters about a minute more.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT / "colab" / "versions.txt"
VENV = ROOT / ".colab-venv"
PYTHON = VENV / "bin" / "python"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def colab_pins():
    return [line.strip() for line in VERSIONS.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def freeze():
    out = subprocess.run([str(PYTHON), "-m", "pip", "list", "--format=freeze"], check=True,
                         capture_output=True, text=True).stdout
    return dict(line.split("==", 1) for line in out.splitlines() if "==" in line)


def fingerprint():
    torch_pin = [ln for ln in (ROOT / "constraints.txt").read_text().splitlines()
                 if ln.startswith("torch==")]
    return hashlib.sha256((VERSIONS.read_text() + "".join(torch_pin)).encode()).hexdigest()


def pip(*args):
    subprocess.run([str(PYTHON), "-m", "pip", "--quiet", *args], check=True)


@pytest.fixture(scope="module")
def colab_env():
    """Colab's package set, as it is before a chapter's first cell runs (without dlcore)."""
    stamp, pristine = VENV / "colab-fingerprint", VENV / "pristine.json"
    reusable = (stamp.exists() and stamp.read_text() == fingerprint() and pristine.exists())
    if reusable:
        pip("uninstall", "--yes", "dlcore")  # what the last run added, and only that
        reusable = freeze() == json.loads(pristine.read_text())
    if not reusable:
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip("install", "-c", str(ROOT / "constraints.txt"), "torch")
        pip("install", *colab_pins())
        pristine.write_text(json.dumps(freeze()))
        stamp.write_text(fingerprint())
    return freeze()


def colab_install_commands(path):
    """The shell commands of a chapter's Colab branch, with dlcore from this checkout instead
    of the repository URL, and pip the Colab environment's own."""
    source = json.loads(path.read_text())["cells"][1]["source"]
    lines = [line.strip() for line in source]
    start = lines.index('if "google.colab" in sys.modules:') + 1
    commands = []
    for line in lines[start:]:
        if not line.startswith(("!", "%pip")):
            break
        line = line[1:] if line.startswith("!") else line[1:]  # "!cmd" and "%pip ..." alike
        line = re.sub(r'"dlcore @ git\+[^"]+"', f'"dlcore @ {ROOT.as_uri()}"', line)
        commands.append(line)
    assert commands, f"{path.name}: no install commands in the Colab branch"
    return commands


def test_the_versions_file_names_its_source_and_date():
    text = VERSIONS.read_text()
    assert "googlecolab/backend-info" in text and re.search(r"read \d{4}-\d\d-\d\d", text)
    pins = dict(p.split("==") for p in colab_pins())
    assert pins["ipywidgets"].startswith("7.") and pins["numpy"] == "2.1.3"


@pytest.fixture(scope="module")
def first_cell(colab_env, tmp_path_factory):
    """Run the Colab branch of the chapters' first cell; return the package set after it."""
    commands = colab_install_commands(CHAPTERS[0])
    assert all(colab_install_commands(p) == commands for p in CHAPTERS), "cells differ"
    env = dict(os.environ, PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}")
    workdir = tmp_path_factory.mktemp("content")  # Colab's /content: where the cell writes
    for command in commands:
        subprocess.run(command, shell=True, check=True, env=env, cwd=workdir)
    return freeze()


def test_first_cell_adds_dlcore_and_changes_nothing_of_colabs(colab_env, first_cell):
    after = first_cell
    added = sorted(set(after) - set(colab_env))
    changed = sorted(f"{k} {colab_env[k]} -> {after[k]}" for k in colab_env
                     if k in after and after[k] != colab_env[k])
    removed = sorted(set(colab_env) - set(after))
    assert (added, changed, removed) == (["dlcore"], [], [])


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_on_colabs_versions(first_cell, path, tmp_path):
    import nbformat
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    class ColabSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(argv=[str(PYTHON), "-m", "ipykernel_launcher", "-f",
                                    "{connection_file}"], display_name="Colab", language="python")

    # As in Colab, the notebook alone, in a folder outside the repository (Colab's /content):
    # a path into the repository ("../benchmarks/...") fails here, and dlcore (with its stored
    # runs, dlcore.results) comes only from the installed package.
    content = tmp_path / "content"
    content.mkdir()
    shutil.copy(path, content / path.name)
    assert ROOT not in content.parents
    nb = nbformat.read(content / path.name, as_version=4)
    km = KernelManager(kernel_name="colab", kernel_spec_manager=ColabSpecs())
    try:
        NotebookClient(nb, km=km, timeout=300,
                       resources={"metadata": {"path": str(content)}}).execute()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert errors == []
