"""How the book's torch code behaves on a shared machine (a reader's laptop, a CI runner, two
notebooks at once): one epoch of Chapter 5's 784-1000-500-250-30 autoencoder, alone and beside a
competing process that keeps one core busy, under the thread settings a chapter can choose.

    python benchmarks/bench_contention.py [--quick] [--json PATH] [--markdown PATH]

Each setting runs in its own child process, because the OpenMP runtime that torch's CPU build
uses reads ``OMP_WAIT_POLICY`` once, when it starts. The settings:

- ``OpenMP's default`` (nothing set): GNU OpenMP lets a thread that finished its share of a
  parallel loop spin for a while (GOMP_SPINCOUNT, 300,000 turns) before it sleeps. Alone, that
  saves a wake-up; beside another process it burns the core the other thread is waiting for.
- ``OMP_WAIT_POLICY=ACTIVE``: spin, never sleep. ``GOMP_SPINCOUNT=10000``: spin less.
- ``OMP_WAIT_POLICY=PASSIVE``: sleep at once; what dlcore sets unless the environment chose
  (see ``dlcore.train.set_threads``).
- ``1 thread``: no parallel loops at all.

Each time is the median of ``--repeats`` runs (the settings take turns, so a slow minute of the
machine spreads over all of them). The figure of merit is each loaded time over the same
setting's idle time; with a busy neighbour, two threads sharing two cores can at best run at the
speed of one, so about 1x-2x is a fair share and more is waste.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from machine import blas, cpu_name  # noqa: E402

SETTINGS = {
    "2 threads, OpenMP's default": {"threads": 2, "env": {}},
    "2 threads, OMP_WAIT_POLICY=ACTIVE": {"threads": 2, "env": {"OMP_WAIT_POLICY": "ACTIVE"}},
    "2 threads, GOMP_SPINCOUNT=10000": {"threads": 2, "env": {"GOMP_SPINCOUNT": "10000"}},
    "2 threads, OMP_WAIT_POLICY=PASSIVE": {"threads": 2, "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
    "1 thread": {"threads": 1, "env": {}},
}

WORKER = r"""
import sys, time
import torch
from dlcore import models, train
threads, n = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
x = torch.rand(n, 784)
ae = models.Autoencoder([784, 1000, 500, 250, 30], activation="sigmoid",
                        code_activation="linear")
opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
def epoch():
    for i in range(0, n, 100):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(ae(x[i:i + 100]), x[i:i + 100])
        loss.backward()
        opt.step()
epoch()  # warm-up: first-touch allocations and kernel choice
start = time.perf_counter()
epoch()
print(time.perf_counter() - start)
"""

# A neighbour that keeps one core busy the way another notebook or a test run does: a tight
# pure-Python loop (it holds one core and releases it only when the scheduler preempts it).
LOAD = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"


def run_epoch(setting, n, loaded):
    chosen = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"}  # each setting starts from OpenMP's defaults
    env = {**{k: v for k, v in os.environ.items() if k not in chosen}, **setting["env"]}
    load = subprocess.Popen([sys.executable, "-c", LOAD]) if loaded else None
    try:
        out = subprocess.run([sys.executable, "-c", WORKER, str(setting["threads"]), str(n)],
                             env=env, capture_output=True, text=True, check=True, timeout=3600)
    finally:
        if load is not None:
            load.kill()
            load.wait()
    return float(out.stdout.strip().splitlines()[-1])


def measure(n, repeats):
    times = {(name, loaded): [] for name in SETTINGS for loaded in (False, True)}
    for _ in range(repeats):  # the settings take turns
        for name, setting in SETTINGS.items():
            for loaded in (False, True):
                times[name, loaded].append(run_epoch(setting, n, loaded))
    rows = []
    for name in SETTINGS:
        idle, loaded = np.median(times[name, False]), np.median(times[name, True])
        rows.append({"setting": name, "idle_s": idle, "loaded_s": loaded,
                     "slowdown": loaded / idle, "idle_runs": times[name, False],
                     "loaded_runs": times[name, True]})
        print(f"{name:36} idle {idle:7.2f} s   beside a busy core {loaded:7.2f} s   "
              f"x{loaded / idle:.1f}", flush=True)
    return rows


def markdown(result):
    lines = [f"# Threads on a shared machine ({result['date']})", "",
             f"{result['machine']}; BLAS {result['blas']['library']} "
             f"{result['blas']['version']} ({result['blas']['kernel']}); torch "
             f"{result['torch']}.", "",
             f"One epoch of the 784-1000-500-250-30 autoencoder on {result['examples']:,} "
             "inputs (batches of 100, Adam), alone and beside a process that keeps one core "
             "busy; each setting in its own child process, the median of "
             f"{result['repeats']} runs. Command: "
             f"`{result['command']}`.", "",
             "| setting | idle (s) | beside a busy core (s) | slowdown |",
             "|---|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['setting']} | {r['idle_s']:.2f} | {r['loaded_s']:.2f} | "
                     f"{r['slowdown']:.1f}x |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 inputs instead of 10,000")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting (median)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    import torch

    n = 2000 if args.quick else 10_000
    result = {"date": datetime.date.today().isoformat(),
              "machine": f"{cpu_name()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "blas": blas(), "torch": torch.__version__, "examples": n,
              "command": "python benchmarks/bench_contention.py" + (" --quick" * args.quick)
                         + f" --repeats {args.repeats}",
              "repeats": args.repeats, "rows": measure(n, args.repeats)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(result))


if __name__ == "__main__":
    main()
