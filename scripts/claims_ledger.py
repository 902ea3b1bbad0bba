"""Write the claims ledger from the chapters' stored outputs.

    python scripts/claims_ledger.py           # what `make outputs` runs after executing them
    python scripts/claims_ledger.py --check   # exit 1 if ledger/ is out of date

Every row a cell showed with ``dlcore.ledger.claim`` (the full row travels in the output's
``application/vnd.dlcore.claim+json`` bundle, beside the short line the reader sees) becomes one
row of the table, with its verdict, linked to the section of the chapter that holds the cell. Writes ledger/claims.json (the rows) and ledger/claims_table.md (the table the
book's Claims ledger page includes). Two rows with the same key are an error.
"""

import json
import sys
from pathlib import Path

from docutils.nodes import make_id

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dlcore.ledger import MIME, VERDICTS  # noqa: E402

OUT = ROOT / "ledger"


def cell_text(cell):
    """What the cell printed and displayed as text, in order."""
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append("".join(o.get("text", "")))
        elif "text/plain" in o.get("data", {}):
            parts.append("".join(o["data"]["text/plain"]) + "\n")
    return "".join(parts)


def cell_rows(cell):
    """The ledger rows a cell's outputs carry."""
    return [o["data"][MIME] for o in cell.get("outputs", [])
            if o.get("output_type") == "display_data" and MIME in o.get("data", {})]


def anchor(section):
    """The id Sphinx gives a heading: smart quotes turn ' into a curly quote, which the id drops."""
    return make_id(section.replace("'", "").replace("\u2019", ""))


def rows():
    found, keys = [], {}
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        section = ""
        for index, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                for line in "".join(cell["source"]).splitlines():
                    if line.startswith("## "):
                        section = line[3:].strip()
                continue
            for entry in cell_rows(cell):
                key = entry["key"]
                if entry.get("verdict") not in VERDICTS:
                    raise SystemExit(f"claim {key!r} in {path.stem} has no known verdict: "
                                     f"re-execute the chapter (make outputs)")
                where = f"{path.stem}, cell {index}"
                if key in keys:
                    raise SystemExit(f"claim key {key!r} appears twice: {keys[key]} and {where}")
                keys[key] = where
                found.append({**entry, "chapter": path.stem, "cell": index,
                              "cell_id": cell.get("id"), "section": section,
                              "anchor": anchor(section)})
    return found


def verdict_cell(e):
    """The verdict, with what it was read from as a tooltip (markdown has no footnotes here)."""
    basis = e["basis"].replace('"', "&quot;").replace("<", "&lt;")
    return f'<span title="{basis}">{e["verdict"]}</span>'


def table(entries):
    lines = ["| claim | measured here | quoted | source | verdict | where |",
             "|---|---|---|---|---|---|"]
    for e in entries:
        number = e["section"].split(" ", 1)[0]
        link = (f'<a href="chapters/{e["chapter"]}.html#{e["anchor"]}">§{number}</a>, '
                f'cell {e["cell"]}')
        lines.append(f"| {e['what']} (`{e['key']}`) | {e['measured']} | {e['quoted']} | "
                     f"{e['source']} | {verdict_cell(e)} | {link} |")
    return "\n".join(lines) + "\n"


def main(check: bool) -> int:
    entries = rows()
    files = {OUT / "claims.json": json.dumps(entries, indent=1, ensure_ascii=False) + "\n",
             OUT / "claims_table.md": table(entries)}
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    if check:
        for p in stale:
            print(f"{p.relative_to(ROOT)} is out of date: run python scripts/claims_ledger.py")
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for p, text in files.items():
        p.write_text(text)
    print(f"claims ledger: {len(entries)} claims from "
          f"{len({e['chapter'] for e in entries})} chapters")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
