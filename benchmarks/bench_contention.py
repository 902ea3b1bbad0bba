"""How the book's torch code behaves on a shared machine (a reader's laptop, a CI runner, two
notebooks at once): one epoch of Chapter 5's 784-1000-500-250-30 autoencoder, alone and beside a
competing process that keeps one core busy, under the thread settings a chapter can choose.

    python benchmarks/bench_contention.py [--quick] [--json PATH] [--markdown PATH]

Each setting runs in its own child process, because the OpenMP runtime that torch's CPU build
uses reads ``OMP_WAIT_POLICY`` once, when it starts. The settings:

- ``2 threads, active wait``: OpenMP's default on Linux, where a thread that finishes its share of
  a parallel loop spins for a while before it sleeps. Alone, that saves the wake-up; beside
  another process it burns the core the other thread is waiting for.
- ``2 threads, passive wait``: ``OMP_WAIT_POLICY=PASSIVE``, what dlcore sets unless the
  environment says otherwise (see ``dlcore.train.set_threads``).
- ``1 thread``: no parallel loops at all.

The figure of merit is the ratio of each loaded time to the same setting's idle time in the same
run; a perfect share of two cores with one busy neighbour would be about 1.5-2.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from machine import blas, cpu_name  # noqa: E402

SETTINGS = {
    "2 threads, active wait": {"threads": 2, "env": {"OMP_WAIT_POLICY": "ACTIVE"}},
    "2 threads, passive wait": {"threads": 2, "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
    "1 thread": {"threads": 1, "env": {"OMP_WAIT_POLICY": "PASSIVE"}},
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
    env = {**os.environ, **setting["env"]}
    load = subprocess.Popen([sys.executable, "-c", LOAD]) if loaded else None
    try:
        out = subprocess.run([sys.executable, "-c", WORKER, str(setting["threads"]), str(n)],
                             env=env, capture_output=True, text=True, check=True, timeout=3600)
    finally:
        if load is not None:
            load.kill()
            load.wait()
    return float(out.stdout.strip().splitlines()[-1])


def measure(n):
    rows = []
    for name, setting in SETTINGS.items():
        idle = run_epoch(setting, n, loaded=False)
        loaded = run_epoch(setting, n, loaded=True)
        rows.append({"setting": name, "idle_s": idle, "loaded_s": loaded,
                     "slowdown": loaded / idle})
        print(f"{name:26} idle {idle:7.2f} s   beside a busy core {loaded:7.2f} s   "
              f"x{loaded / idle:.1f}", flush=True)
    return rows


def markdown(result):
    lines = [f"# Threads on a shared machine ({result['date']})", "",
             f"{result['machine']}; BLAS {result['blas']['library']} "
             f"{result['blas']['version']} ({result['blas']['kernel']}); torch "
             f"{result['torch']}.", "",
             f"One epoch of the 784-1000-500-250-30 autoencoder on {result['examples']:,} "
             "inputs (batches of 100, Adam), alone and beside a process that keeps one core "
             "busy; each setting in its own child process. Command: "
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
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    import torch

    n = 2000 if args.quick else 10_000
    result = {"date": datetime.date.today().isoformat(),
              "machine": f"{cpu_name()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "blas": blas(), "torch": torch.__version__, "examples": n,
              "command": "python benchmarks/bench_contention.py" + (" --quick" * args.quick),
              "rows": measure(n)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(result))


if __name__ == "__main__":
    main()
