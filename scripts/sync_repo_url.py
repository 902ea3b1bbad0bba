"""Copy the repository URL from _config.yml into every chapter's Colab install line.

_config.yml's `repository.url` is the one setting; the launch buttons read it directly, and the
first cell of each chapter (which installs dlcore when running in Colab) gets it from here.
Usage: python scripts/sync_repo_url.py [--check]
"""

import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTALL = re.compile(r'(%pip install -q "dlcore @ git\+)([^"@]+)(")')


def repo_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def stale_chapters(url: str):
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        setup = nbformat.read(path, as_version=4).cells[1].source
        found = INSTALL.search(setup)
        if found is None or found.group(2) != url:
            yield path, found


def main(check: bool) -> int:
    url = repo_url()
    stale = list(stale_chapters(url))
    for path, found in stale:
        if check or found is None:
            print(f"{path.name}: setup cell does not install from {url}")
            continue
        nb = nbformat.read(path, as_version=4)
        nb.cells[1].source = INSTALL.sub(lambda m: m.group(1) + url + m.group(3), nb.cells[1].source)
        nbformat.write(nb, path)
        print(f"{path.name}: now installs from {url}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
