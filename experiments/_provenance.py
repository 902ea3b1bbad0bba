"""What every stored run records about how it was made (checked by dlcore.results.check)."""

import datetime
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "dlcore" / "stored"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from machine import blas, cpu_name  # noqa: E402


def commit() -> str:
    """The commit the experiment ran at, with "+dirty" if tracked files had changed."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty" if dirty else "")


AT_START = commit()  # taken when the experiment starts: later commits do not change it


def provenance(seeds, threads: int, started: float, ended: float, **extra) -> dict:
    import numpy
    import torch

    argv = [Path(sys.argv[0]).resolve().relative_to(ROOT).as_posix()] + sys.argv[1:]
    return dict(command="python " + shlex.join(argv), commit=AT_START,
                date=datetime.date.today().isoformat(),
                machine=dict(cpu=cpu_name(), cores=os.cpu_count(), blas=blas(),
                             torch_cpu_capability=torch.backends.cpu.get_cpu_capability()),
                python=platform.python_version(), torch=torch.__version__,
                numpy=numpy.__version__, threads=threads, seeds=list(seeds),
                seconds=round(ended - started), **extra)


def write_json(path: Path, stored: dict) -> None:
    """Write atomically: a run killed half-way leaves the previous file in place."""
    import json

    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(stored, indent=1) + "\n")
    os.replace(tmp, path)
