"""Copy the repository URL (from _config.yml) and the dlcore release (``dlcore.__version__``) into
every chapter's Colab install line.

_config.yml's `repository.url` is the one setting for the URL; the launch buttons read it
directly, and the first cell of each chapter (which installs dlcore when running in Colab) gets
it from here, pinned to the tag ``v<version>`` of the release the chapter was written against, so
that an old copy of a chapter keeps installing the dlcore it was written for. Run it after
changing either (`make sync-repo-url`), and tag the release ``v<version>`` when it is published.
Usage: python scripts/sync_repo_url.py [--check]
"""

import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTALL = re.compile(r'(%pip install -q -c colab-packages\.txt "dlcore @ git\+)'
                     r'([^"@]+)@v([^"]+)(")')


def repo_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")


def version() -> str:
    text = (ROOT / "dlcore" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def stale_chapters(url: str, release: str):
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        setup = nbformat.read(path, as_version=4).cells[1].source
        found = INSTALL.search(setup)
        if found is None or found.group(2) != url or found.group(3) != release:
            yield path, found


def main(check: bool) -> int:
    url, release = repo_url(), version()
    stale = list(stale_chapters(url, release))
    for path, found in stale:
        if check or found is None:
            print(f"{path.name}: setup cell does not install {url}@v{release}")
            continue
        nb = nbformat.read(path, as_version=4)
        nb.cells[1].source = INSTALL.sub(
            lambda m: f"{m.group(1)}{url}@v{release}{m.group(4)}", nb.cells[1].source)
        nbformat.write(nb, path)
        print(f"{path.name}: now installs {url}@v{release}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
