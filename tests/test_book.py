"""The book's wiring: table of contents, chapter skeleton, stored outputs, the Colab install line."""

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import sync_repo_url  # noqa: E402


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for part in toc["parts"] for c in part["chapters"]]


def test_every_chapter_is_in_the_toc_and_the_intro_map():
    listed = [f for f in toc_files() if f.startswith("chapters/")]
    assert listed == [f"chapters/{p.stem}" for p in CHAPTERS]
    intro = (ROOT / "intro.md").read_text()
    for p in CHAPTERS:
        assert f"{{doc}}`chapters/{p.stem}`" in intro, f"{p.stem} missing from the chapter map in intro.md"


def test_colab_install_line_uses_the_configured_repository_and_this_release():
    import dlcore

    url, release = sync_repo_url.repo_url(), sync_repo_url.version()
    assert url.startswith("https://") and release == dlcore.__version__
    stale = list(sync_repo_url.stale_chapters(url, release))
    assert stale == [], "run: make sync-repo-url"


def test_colab_install_line_keeps_colabs_packages():
    """The first cell pins every installed package (pip -c) before it adds dlcore."""
    for path in CHAPTERS:
        setup = json.loads(path.read_text())["cells"][1]["source"]
        lines = [line.strip() for line in setup]
        colab = lines[lines.index('if "google.colab" in sys.modules:') + 1:][:2]
        assert colab[0] == ('!pip list --format=freeze | grep -v "^dlcore==" > '
                            'colab-packages.txt'), path.name
        assert colab[1].startswith('%pip install -q -c colab-packages.txt "dlcore @ git+')


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_skeleton_and_stored_outputs(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    number = int(path.stem.split("_")[0])
    assert "".join(cells[0]["source"]).startswith(f"# {number}. ")
    setup = cells[1]
    assert setup["cell_type"] == "code" and "nbval-ignore-output" in setup["metadata"].get("tags", [])
    assert "google.colab" in "".join(setup["source"]) and "seed_everything" in "".join(setup["source"])
    headings = [line for c in cells if c["cell_type"] == "markdown" for line in "".join(c["source"]).splitlines()]
    for section in ("## Summary", "## Exercises", "## References"):
        assert section in headings, f"{path.name} lacks a '{section}' section"
    assert any(re.match(rf"## {number}\.1 ", h) for h in headings)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "regenerate outputs: make outputs"
    for c in code:
        assert not any(o["output_type"] == "error" for o in c["outputs"])
        text = json.dumps(c["outputs"])
        assert "Traceback (most recent call last)" not in text and not re.search(r"/(tmp|root|home)/|\.\./shared", text)


def test_readme_dlcore_nn_example_runs():
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"## dlcore.nn in one screen\n\n```python\n(.*?)```", readme, re.S)
    assert snippet, "README lost its dlcore.nn example"
    exec(compile(snippet.group(1), "README.md", "exec"), {})


def test_readme_commands_are_the_ones_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1] == "make test"


@pytest.mark.book
def test_a_chapter_without_its_data_shows_one_clear_message(tmp_path):
    """In a real kernel, a missing dataset shows the loader's message, not a 40-line traceback."""
    import sys

    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    sys.path.insert(0, str(ROOT / "scripts"))
    from run_notebooks import CurrentEnvSpecs

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import os\nos.environ['DLCORE_DATA'] = {str(tmp_path)!r}\n"
        "from dlcore import data\ndata.load_mnist(download=False)")])
    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvSpecs())
    try:
        NotebookClient(nb, km=km, timeout=120, allow_errors=True).execute()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    (error,) = [o for o in nb.cells[0].outputs if o.output_type == "error"]
    assert error.ename == "DataError"
    assert len(error.traceback) == 1, error.traceback
    assert "train-images-idx3-ubyte.gz is not in" in error.traceback[0]
    assert "download=False" in error.traceback[0] and "Traceback" not in error.traceback[0]


# Modules that Python 3.13 (Colab's) removed (PEP 594, and lib2to3); none may be imported.
REMOVED_IN_313 = {"aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap",
                  "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd",
                  "sunau", "telnetlib", "uu", "xdrlib", "lib2to3"}


def test_no_module_that_python_313_removed_is_imported():
    sources = [p.read_text() for p in (ROOT / "dlcore").rglob("*.py")]
    sources += ["\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"]
                          if c["cell_type"] == "code") for p in CHAPTERS]
    imported = set()
    for text in sources:
        imported |= set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", text, re.M))
    assert imported & REMOVED_IN_313 == set()
