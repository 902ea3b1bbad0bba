"""Speed of the NumPy reference layers (dlcore.nn) against torch on the CPU, in one run.

    python benchmarks/bench_nn.py [--quick] [--json PATH] [--markdown PATH]

Each case times a forward pass, forward + backward, or one training epoch on the same float32
data for both libraries and reports the median over repeats after a warm-up. The figure that
matters is the ratio NumPy / torch; the absolute times depend on the machine. Thread counts are
left at their defaults and printed. NumPy's speed depends on the BLAS kernel OpenBLAS runs, so
every case is measured twice, each time in a child process: with the kernel the machine forces
through OPENBLAS_CORETYPE (Haswell when it forces none, as some CI machines do), and with the
one OpenBLAS picks for the CPU, as on a reader's machine. threadpoolctl names both. A forward-only case runs torch with autograd on, as in
training, since our forward also keeps what backward needs.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from dlcore import nn  # noqa: E402
from machine import blas, cpu_name  # noqa: E402

# OpenBLAS picks its kernel for the CPU at start-up unless these say otherwise. Some machines
# (this project's CI among them) force an older kernel; a reader's laptop does not.
KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
DEFAULT_FORCED = "Haswell"


def conv_case(n, c, hw, f, k, stride=1, padding=0, backward=True):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, hw, hw), dtype=np.float32)
    ours = nn.Conv2d(c, f, k, stride, padding, rng=0)
    theirs = torch.nn.Conv2d(c, f, k, stride, padding)
    g = rng.standard_normal(ours(x).shape, dtype=np.float32)
    x_t, g_t = torch.tensor(x, requires_grad=True), torch.from_numpy(g)

    def run_ours():
        ours(x)
        if backward:
            ours.backward(g)

    def run_theirs():
        y_t = theirs(x_t)
        if backward:
            y_t.backward(g_t)

    return run_ours, run_theirs


def pool_case(n, c, hw, k):
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((n, c, hw, hw), dtype=np.float32), 0)  # as after a ReLU
    ours, theirs = nn.MaxPool2d(k), torch.nn.MaxPool2d(k)
    g = rng.standard_normal(ours(x).shape, dtype=np.float32)
    x_t, g_t = torch.tensor(x, requires_grad=True), torch.from_numpy(g)

    def run_ours():
        ours(x)
        ours.backward(g)

    def run_theirs():
        theirs(x_t).backward(g_t)

    return run_ours, run_theirs


def mlp_epoch_case(n=60_000, batch=128, sizes=(784, 256, 128, 10)):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)

    def layers(lib):
        mods = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [lib.Linear(a, b), lib.ReLU()]
        return lib.Sequential(*mods[:-1])

    return epoch_runners(layers(nn), layers(torch.nn), x, y, batch)


def epoch_runners(model, model_t, x, y, batch):
    """One epoch of cross-entropy + plain SGD over (x, y): ours on NumPy arrays, torch's on
    the same data as tensors."""
    n, x_t, y_t = len(x), torch.from_numpy(x), torch.from_numpy(y)
    model[0].needs_input_grad = False  # as torch, which needs no gradient for the data
    crit, crit_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt = nn.optim.SGD(model.parameters(), lr=0.01)
    opt_t = torch.optim.SGD(model_t.parameters(), lr=0.01)

    def run_ours():
        for i in range(0, n, batch):
            opt.zero_grad()
            crit(model(x[i:i + batch]), y[i:i + batch])
            model.backward(crit.backward())
            opt.step()

    def run_theirs():
        for i in range(0, n, batch):
            opt_t.zero_grad()
            crit_t(model_t(x_t[i:i + batch]), y_t[i:i + batch]).backward()
            opt_t.step()

    return run_ours, run_theirs


def lenet_epoch_case(n=60_000, batch=128):
    """The modern LeNet-5 (Chapter 7): dlcore.nn layers against dlcore.models.lenet5()."""
    from dlcore.models import lenet5

    rng = np.random.default_rng(0)
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, n)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, rng=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120, rng=2), nn.ReLU(), nn.Linear(120, 84, rng=3), nn.ReLU(),
        nn.Linear(84, 10, rng=4))
    return epoch_runners(model, lenet5(), x, y, batch)


CONV_SHAPES = [  # (description, conv_case arguments)
    ("N=256, 1×28×28 → 6 filters 5×5", (256, 1, 28, 6, 5)),
    ("N=128, 32×32×32 → 64 filters 3×3, pad 1", (128, 32, 32, 64, 3, 1, 1)),
    ("N=16, 3×224×224 → 64 filters 11×11, stride 4, pad 2", (16, 3, 224, 64, 11, 4, 2)),
]

CASES = [  # (description, factory, target ratio; None: measured, no target)
    *[(f"Conv2d forward, {d}", lambda a=a: conv_case(*a, backward=False), None)
      for d, a in CONV_SHAPES],
    *[(f"Conv2d fwd+bwd, {d}", lambda a=a: conv_case(*a), 2.0) for d, a in CONV_SHAPES],
    ("MaxPool2d 2×2 fwd+bwd, N=256, 6×24×24", lambda: pool_case(256, 6, 24, 2), 1.0),
    ("MaxPool2d 2×2 fwd+bwd, N=128, 64×32×32", lambda: pool_case(128, 64, 32, 2), 1.0),
    ("MLP 784-256-128-10 ReLU, CE + SGD, 1 epoch of 60,000, batch 128", mlp_epoch_case, 1.0),
    ("LeNet-5 (NumPy dlcore.nn vs torch), 1 epoch of 60,000 MNIST-sized inputs, batch 128",
     lenet_epoch_case, None),
]


def time_block(run, repeats):
    """Median wall time of ``run`` after a warm-up (allocations, thread pools, lazy set-up).

    Each library is timed in its own block: alternating call by call would make one pay for
    the other's thread pool, whose idle threads keep spinning for a while after each call.
    """
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def measure(repeats):
    """Every case in this process: NumPy and torch times and their ratio."""
    rows = []
    for description, factory, target in CASES:
        run_ours, run_theirs = factory()
        ms_ours = time_block(run_ours, repeats)
        time.sleep(1.0)  # let OpenBLAS's threads stop spinning before torch's turn (2 cores)
        ms_theirs = time_block(run_theirs, repeats)
        time.sleep(1.0)
        rows.append(dict(case=description, numpy_ms=ms_ours, torch_ms=ms_theirs,
                         ratio=ms_ours / ms_theirs, target=target))
        print(f"  {description}: {ms_ours:.1f} ms vs {ms_theirs:.1f} ms", file=sys.stderr,
              flush=True)
    return dict(blas=blas(), cases=rows)


def run_child(env_changes, repeats):
    """This script in a child process with the given environment: only there do the BLAS
    kernel variables change, since OpenBLAS reads them once, when NumPy loads it."""
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}
    env.update(env_changes)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "child.json"
        subprocess.run([sys.executable, __file__, "--child", str(out), "--repeats",
                        str(repeats)], env=env, check=True)
        return json.loads(out.read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--markdown", metavar="PATH",
                        help="also write the table, with its header line, as Markdown")
    parser.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    if args.child:
        Path(args.child).write_text(json.dumps(measure(repeats)))
        return

    machine_forces = os.environ.get("OPENBLAS_CORETYPE")
    forced_kernel = machine_forces or DEFAULT_FORCED
    forced_env = {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ}
    forced_env.setdefault("OPENBLAS_CORETYPE", forced_kernel)
    print(f"NumPy with the {forced_kernel} kernel:", file=sys.stderr)
    forced = run_child(forced_env, repeats)
    print("NumPy with the kernel OpenBLAS picks for this CPU:", file=sys.stderr)
    native = run_child({}, repeats)
    kernels = (forced["blas"]["kernel"], native["blas"]["kernel"])
    who = "this machine forces" if machine_forces else "some machines force (set for the run)"
    meta = dict(date=datetime.date.today().isoformat(), machine=cpu_name(), cpus=os.cpu_count(),
                python=platform.python_version(), numpy=np.__version__, torch=torch.__version__,
                blas=native["blas"], forced_kernel=kernels[0], native_kernel=kernels[1],
                machine_forces_kernel=bool(machine_forces), torch_threads=torch.get_num_threads(),
                repeats=repeats)
    b = native["blas"]
    header = (f"Measured on {meta['date']} on: {meta['machine']}, {meta['cpus']} CPUs, Python "
              f"{meta['python']}; numpy {meta['numpy']} with {b['library']} {b['version']} "
              f"({b['threads']} threads), torch {meta['torch']} ({meta['torch_threads']} "
              f"threads); median of {repeats} after a warm-up, float32. NumPy ran twice, in "
              f"child processes: with the {kernels[0]} kernel that {who}, and with the "
              f"{kernels[1]} kernel OpenBLAS picks for this CPU. Each ratio is NumPy time / "
              f"torch time in the same process.")
    lines = [f"| case | {kernels[0]} run: NumPy ms | torch ms | ratio | {kernels[1]} run: NumPy "
             f"ms | torch ms | ratio | target | met ({kernels[0]} / {kernels[1]}) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    rows = []
    for f, n in zip(forced["cases"], native["cases"]):
        target = n["target"]
        met = [None if target is None else bool(r["ratio"] <= target) for r in (f, n)]
        rows.append(dict(case=n["case"], target=target, forced=f, native=n, met_forced=met[0],
                         met_native=met[1]))
        goal = "—" if target is None else f"≤ {target:g}"
        verdict = "—" if target is None else " / ".join("yes" if m else "no" for m in met)
        lines.append(f"| {n['case']} | {f['numpy_ms']:.1f} | {f['torch_ms']:.1f} | "
                     f"{f['ratio']:.2f} | {n['numpy_ms']:.1f} | {n['torch_ms']:.1f} | "
                     f"{n['ratio']:.2f} | {goal} | {verdict} |")
    report(args, header, lines, meta, rows)


def report(args, header, lines, meta, rows):
    """Print the table; write it as Markdown and the figures as JSON where the options say."""
    print(header + "\n", *lines, sep="\n")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(meta=meta, cases=rows), indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text("\n".join([header, "", *lines]) + "\n")


if __name__ == "__main__":
    main()
