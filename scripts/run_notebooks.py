"""Execute the chapters in the current Python environment and store their outputs in place.

    python scripts/run_notebooks.py                 # every chapter
    python scripts/run_notebooks.py chapters/01_perceptron.ipynb

Runs each notebook top to bottom in a fresh kernel of *this* interpreter (not whatever
"python3" kernel Jupyter finds first), keeps widget state so the HTML shows live controls, and
records each notebook's wall-clock time in benchmarks/notebook_times.json for the book's
timing page, then rewrites the claims ledger (scripts/claims_ledger.py) from the new outputs. Exits non-zero if a cell raises or the total exceeds the budget.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import ipykernel.kernelspec
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe as machine  # noqa: E402
import claims_ledger  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "benchmarks" / "notebook_times.json"
TABLE = ROOT / "benchmarks" / "notebook_times.md"  # included by the book's performance page
BUDGET_EACH_S, BUDGET_TOTAL_S = 120, 720


class CurrentEnvSpecs(KernelSpecManager):
    def get_kernel_spec(self, kernel_name):
        return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                      **ipykernel.kernelspec.get_kernel_dict())


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvSpecs())
    client = NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    times = json.loads(TIMES.read_text())["seconds"] if TIMES.exists() else {}
    for path in paths:
        seconds = execute(path)
        times[path.stem] = round(seconds, 1)
        flag = "" if seconds <= BUDGET_EACH_S else f"  (over the {BUDGET_EACH_S} s budget)"
        print(f"{path.name}: {seconds:.1f} s{flag}", flush=True)
    times = {k: times[k] for k in sorted(times) if (ROOT / "chapters" / f"{k}.ipynb").exists()}
    total = sum(times.values())
    TIMES.write_text(json.dumps({
        "machine": machine(),
        "seconds": times, "total_seconds": round(total, 1),
    }, indent=2) + "\n")
    rows = [f"| `{stem}.ipynb` | {sec:.1f} | {'yes' if sec <= BUDGET_EACH_S else '**no**'} |"
            for stem, sec in times.items()]
    TABLE.write_text("\n".join([
        f"Measured by `make outputs` on: {machine()}.", "",
        f"| notebook | seconds | within {BUDGET_EACH_S} s |", "|---|---:|:---:|", *rows,
        f"| **total** | **{total:.1f}** | {'yes' if total <= BUDGET_TOTAL_S else '**no**'} (budget {BUDGET_TOTAL_S} s) |",
    ]) + "\n")
    print(f"total {total:.1f} s (budget {BUDGET_TOTAL_S} s); wrote {TIMES.relative_to(ROOT)} and {TABLE.name}")
    claims_ledger.main(check=False)  # the ledger page reads the outputs just stored
    return 0 if total <= BUDGET_TOTAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
