"""Chapter 9's depth experiment with more seeds and steps than the chapter can afford.

    python experiments/resnet_depth.py            # full mode: dlcore/stored/resnet_depth.json
    python experiments/resnet_depth.py --quick    # what a chapter can afford; prints only

The CIFAR networks of He et al. (2016, section 4.2) at depths 8, 20 and 56, plain (no shortcuts,
the paper's VGG-style baselines) and residual (identity shortcuts, option A), trained on a fixed
subset of 4,000 Fashion-MNIST images (28×28, one channel) with the paper's SGD settings (learning
rate 0.1, momentum 0.9, weight decay 1e-4), batches of 32, for 400 steps, over three seeds. The
measure is the training error, averaged over the last 20 batches (each measured before its step,
``dlcore.train.steps_to_error``), recorded every step: the degradation problem is a training
error that grows with depth. The chapter runs the first 100 steps of seed 0 itself and plots the
stored JSON, with the command, machine and date that produced it.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import ROOT, STORED, provenance, write_json  # noqa: E402,I001
from dlcore import data, train  # noqa: E402
from dlcore.models import cifar_resnet  # noqa: E402

DEPTHS = (8, 20, 56)
CHECKPOINTS = (100, 200, 400)  # steps at which the markdown table reports the error


def run(X, y, depth, plain, seed, steps):
    torch.manual_seed(seed)
    net = cifar_resnet(depth, 10, plain=plain, in_channels=1)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    start = time.perf_counter()
    _, curve = train.steps_to_error(  # a target no run reaches: every step is taken
        net, sgd, data.ArrayBatches(X, y, batch_size=32, shuffle=True, seed=seed),
        target=1e-3, max_steps=steps)
    return dict(depth=depth, kind="plain" if plain else "residual", seed=seed,
                seconds=round(time.perf_counter() - start, 1),
                curve=[round(c, 5) for c in curve])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 seed and 100 steps; print the table, store nothing (unless --json)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch and BLAS threads (recorded; the results depend on it)")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="default: dlcore/stored/resnet_depth.json in full mode")
    parser.add_argument("--markdown", metavar="PATH", default=None,
                        help="default: experiments/resnet_depth.md in full mode")
    args = parser.parse_args()
    if not args.quick:
        args.json = args.json or str(STORED / "resnet_depth.json")
        args.markdown = args.markdown or str(ROOT / "experiments" / "resnet_depth.md")
    seeds, steps = ([0], 100) if args.quick else ([0, 1, 2], 400)
    train.set_threads(args.threads)
    start = time.time()
    (X, y), _ = data.load_fashion_mnist()
    X, y = data.subset(X, y, 4000, seed=0)
    X = data.to_float(X)
    rows = []
    for seed in seeds:
        for plain in (True, False):
            for depth in DEPTHS:
                rows.append(run(X, y, depth, plain, seed, steps))
                r = rows[-1]
                print(f"  {r['kind']}-{depth} seed {seed}: {r['curve'][-1]:.3f} "
                      f"({r['seconds']} s)", file=sys.stderr, flush=True)
    meta = provenance(seeds, args.threads, start, time.time(), steps=steps)
    if args.json:
        write_json(Path(args.json), dict(meta=meta, runs=rows))
    marks = [s for s in CHECKPOINTS if s <= steps]
    lines = [f"Measured on {meta['date']} on {meta['machine']['cpu']}, {meta['threads']} "
             f"threads, torch {meta['torch']}, commit {meta['commit'][:7]}, by "
             f"`{meta['command']}` ({meta['seconds']} s). Training error "
             f"(%, mean of the last 20 batches) after the given number of steps, per seed.", "",
             "| network | " + " | ".join(f"after {s} steps" for s in marks) + " |",
             "|---|" + "---|" * len(marks)]
    for kind in ("plain", "residual"):
        for depth in DEPTHS:
            rs = [r for r in rows if r["kind"] == kind and r["depth"] == depth]
            cells = []
            for s in marks:
                errs = [100 * r["curve"][s - 1] for r in rs]
                spread = f" (median {statistics.median(errs):.1f})" if len(errs) > 1 else ""
                cells.append(", ".join(f"{e:.1f}" for e in errs) + spread)
            lines.append(f"| {kind}-{depth} | " + " | ".join(cells) + " |")
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
