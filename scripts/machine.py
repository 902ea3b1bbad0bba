"""One description of the machine, for every table of measured times in the book."""

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    return f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def blas() -> dict:
    """NumPy's BLAS as threadpoolctl reports it: library, version, kernel, threads."""
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl inspects)
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool["user_api"] == "blas":
            return {"library": pool.get("internal_api"), "version": pool.get("version"),
                    "kernel": pool.get("architecture") or "unknown",
                    "threads": pool.get("num_threads")}
    return {"library": "unknown", "version": None, "kernel": "unknown", "threads": None}
