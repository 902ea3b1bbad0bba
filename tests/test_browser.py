"""The rendered book as a reader gets it, checked in a real browser (headless Chromium).

Builds the book, opens every page from disk and asserts: math typeset by the bundled MathJax,
every image loaded, widgets rendered as controls, no traceback or error in any cell output, no
request leaving the machine, no JavaScript error, and every chapter in the sidebar. A screenshot
of each page is saved in _build/screenshots/.

Needs Chromium: `apt-get install chromium` (Debian/Ubuntu), or `python -m playwright install
chromium`. Without one the test is skipped, except under CI (CI=1), where it must run.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_conventions import REVISED  # the chapters held to CONTRIBUTING.md

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


def toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def chapter_title(stem):
    nb = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())
    return "".join(nb["cells"][0]["source"]).splitlines()[0].lstrip("# ").strip()


def has_widgets(page):
    path = ROOT / f"{page}.ipynb"
    return path.exists() and "application/vnd.jupyter.widget-view+json" in path.read_text()


def skip_or_fail(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=1: the browser test must run here)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed: pip install -e '.[test]'")
    executable = os.environ.get("DLCORE_CHROMIUM") or next(
        (p for p in map(shutil.which, ["chromium", "chromium-browser", "google-chrome"]) if p), None)
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Error as e:
            skip_or_fail("no Chromium found: install Debian's `chromium` (apt-get install chromium) or run "
                         f"`python -m playwright install chromium`, or set DLCORE_CHROMIUM ({str(e)[:200]})")
        yield b
        b.close()


@pytest.fixture(scope="module")
def book():
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", "--all", "--warningiserror", "--keep-going", str(ROOT)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"book build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    return HTML


CHECKS_JS = """() => {
  const article = document.querySelector('article') || document.body;
  const prose = article.cloneNode(true);
  prose.querySelectorAll('pre, .highlight, .cell_output, mjx-container, script, style')
       .forEach(e => e.remove());
  const outputs = [...article.querySelectorAll('.cell_output')].map(e => e.innerText).join('\\n');
  return {
    mathSource: article.querySelectorAll('.math').length,
    mathTypeset: article.querySelectorAll('mjx-container').length,
    untypeset: [...article.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length,
    rawDelims: (prose.textContent.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length,
    images: [...document.images].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
    widgets: article.querySelectorAll('.jupyter-widgets').length,
    sliders: article.querySelectorAll('.widget-slider, .jupyter-widgets .slider').length,
    // html-manager renders each saved view next to its <script>; count views left without one.
    unrendered: [...article.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
                  .filter(s => !s.parentElement.querySelector('.jupyter-widgets')).length,
    errorOutputs: article.querySelectorAll('.output.traceback, .output.error').length,
    tracebackText: /Traceback \\(most recent call last\\)|^\\w*Error: /m.test(outputs),
    sidebar: [...document.querySelectorAll('nav.bd-docs-nav a')].map(a => a.textContent.trim()),
    captions: [...article.querySelectorAll('figcaption .caption-number')]
                .map(e => e.textContent.trim()),
    progressWidths: [...article.querySelectorAll('.widget-hprogress')]
                      .map(e => e.getBoundingClientRect().width),
    // code and outputs wider than the column (a horizontal scroll bar)
    overflowing: [...article.querySelectorAll("div.cell:not(.tag_hide-input) pre")]
                   .filter(e => e.scrollWidth > e.clientWidth + 1)
                   .map(e => e.textContent.trim().slice(0, 60)),
    setupCollapsed: (() => {
      const cell = article.querySelector('div.cell');
      const details = cell && cell.querySelector('details.hide');
      return !!details && !details.open && cell.classList.contains('tag_hide-input');
    })(),
  };
}"""


@pytest.mark.parametrize("page", toc_pages())
def test_page_renders_completely_offline(browser, book, page):
    html = book / f"{page}.html"
    assert html.exists(), f"{html} was not built"
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = ctx.new_page()
    requests, js_errors = [], []
    tab.on("request", lambda r: requests.append(r.url))
    tab.on("pageerror", lambda e: js_errors.append(str(e)))
    tab.goto(html.as_uri(), wait_until="load")
    if tab.locator("script[src*='mathjax']").count():  # Sphinx loads MathJax only where there is math
        try:
            tab.wait_for_function("() => !!(window.MathJax && MathJax.startup && MathJax.startup.promise)",
                                  timeout=20000)
        except Exception:
            outside = [u for u in requests if not u.startswith("file:")]
            pytest.fail(f"MathJax did not start within 20 s on {page} (off-machine requests: {outside[:3]})")
        tab.evaluate("() => MathJax.startup.promise")
    if has_widgets(page):
        tab.wait_for_selector(".jupyter-widgets", timeout=20000)
    tab.wait_for_timeout(500)
    r = tab.evaluate(CHECKS_JS)
    tab.screenshot(path=str(SHOTS / f"{Path(page).name}.png"), full_page=True)
    ctx.close()

    outside = [u for u in requests if not re.match(r"(file|data|blob|about):", u)]
    assert outside == [], f"requests left the machine: {outside[:5]}"
    assert js_errors == [], f"JavaScript errors: {js_errors[:3]}"
    summary = {k: v for k, v in r.items() if k not in ("images", "sidebar")}
    assert r["untypeset"] == 0 and r["rawDelims"] == 0, f"math not typeset: {summary}"
    if page.startswith("chapters/"):
        assert r["mathTypeset"] > 10, "a chapter without typeset math?"
    broken = [i["src"] for i in r["images"] if not i["ok"]]
    assert broken == [], f"images that did not load: {broken}"
    if page.startswith("chapters/"):
        assert len(r["images"]) >= 3, "a chapter page with fewer than three figures?"
    if has_widgets(page):
        assert r["widgets"] > 0 and r["unrendered"] == 0, f"widgets not rendered: {summary}"
    if page == "chapters/01_perceptron":
        assert r["sliders"] >= 3, "the decision-boundary control should show three sliders"
    if page.startswith("chapters/"):
        assert r["setupCollapsed"], "the setup cell should be collapsed (hide-input)"
        assert all(w > 100 for w in r["progressWidths"]), f"progress bars {r['progressWidths']}"
    if page.startswith("chapters/") and Path(page).name in REVISED:
        label = int(Path(page).name[:2])
        assert r["captions"] == [f"Figure {label}.{k}" for k in range(1, len(r["captions"]) + 1)]
        assert r["captions"], "captioned figures are numbered"
        assert r["overflowing"] == [], f"wider than the column: {r['overflowing'][:3]}"
    assert r["errorOutputs"] == 0 and not r["tracebackText"], "a cell output shows an error"
    for stem in sorted(p.stem for p in (ROOT / "chapters").glob("*.ipynb")):
        title = chapter_title(stem)
        assert title in r["sidebar"], f"sidebar lacks '{title}': {r['sidebar']}"


def test_every_claims_ledger_link_lands_on_a_section(book):
    """Each row of the ledger page links to a section id that exists in the chapter's page."""
    page = (book / "claims.html").read_text()
    links = re.findall(r'href="(chapters/[\w]+\.html)#([\w-]+)"', page)
    assert len(links) >= 10, "the ledger page lists too few claims"
    for target, anchor in links:
        assert f'id="{anchor}"' in (book / target).read_text(), f"{target}#{anchor} missing"
