"""Write the claims ledger from the chapters' stored outputs.

    python scripts/claims_ledger.py           # what `make outputs` runs after executing them
    python scripts/claims_ledger.py --check   # exit 1 if ledger/ is out of date

Every line ``claim <key> | what: ... | measured: ... | quoted: ... | source: ...`` that a cell
printed (``dlcore.ledger.claim``) becomes one row, linked to the section of the chapter that
holds the cell. Writes ledger/claims.json (the rows) and ledger/claims_table.md (the table the
book's Claims ledger page includes). Two rows with the same key are an error.
"""

import json
import sys
from pathlib import Path

from docutils.nodes import make_id

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dlcore.ledger import LINE  # noqa: E402

OUT = ROOT / "ledger"


def cell_text(cell):
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")


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
            for line in cell_text(cell).splitlines():
                match = LINE.match(line)
                if not match:
                    continue
                key = match["key"]
                where = f"{path.stem}, cell {index}"
                if key in keys:
                    raise SystemExit(f"claim key {key!r} appears twice: {keys[key]} and {where}")
                keys[key] = where
                found.append({**match.groupdict(), "chapter": path.stem, "cell": index,
                              "cell_id": cell.get("id"), "section": section,
                              "anchor": anchor(section)})
    return found


def table(entries):
    lines = ["| claim | measured here | quoted | source | where |",
             "|---|---|---|---|---|"]
    for e in entries:
        number = e["section"].split(" ", 1)[0]
        link = (f'<a href="chapters/{e["chapter"]}.html#{e["anchor"]}">§{number}</a>, '
                f'cell {e["cell"]}')
        lines.append(f"| {e['what']} (`{e['key']}`) | {e['measured']} | {e['quoted']} | "
                     f"{e['source']} | {link} |")
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
