"""Chapter 8's two small experiments with more seeds and settings than the chapter can afford.

    python experiments/alexnet_ablations.py            # full mode: dlcore/stored/alexnet_ablations.json
    python experiments/alexnet_ablations.py --quick    # what a chapter can afford; prints only

1. ReLU against tanh (Krizhevsky et al. 2012, figure 1: a four-layer CNN reaches 25% training
   error on CIFAR-10 six times faster with ReLUs): SGD steps, batches of 32, for the running
   training error (mean of the last 20 batches) to reach 25% and 15% on Fashion-MNIST padded to
   32×32, for the lectures' four-layer CNN (``lecture_cnn``) and a quarter-width eight-layer
   AlexNet (``alexnet(variant="cifar", width=0.25)``) with torch's default initialisation and
   with He's, at two learning rates, over three seeds (at most 500 steps).
2. AlexNet's tricks switched off one at a time, and Zeiler and Fergus's layers removed: the quarter-width AlexNet with local response
   normalisation, overlapping pooling, dropout 0.5 and random crops and flips, trained for a
   fixed budget (He initialisation, 4,000 Fashion-MNIST images, 4 epochs, SGD momentum 0.9,
   learning rate 0.01), test error on 2,000 test images, over three seeds.

The chapter plots the stored JSON with the command, machine and date that produced it.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import ROOT, STORED, provenance, write_json  # noqa: E402,I001
from dlcore import augment, data, train  # noqa: E402
from dlcore.models import alexnet, lecture_cnn  # noqa: E402

TRICKS = ("LRN", "overlapping pooling", "dropout", "augmentation")


def fashion(n_train, n_test, seed=0):
    (X, y), (Xt, yt) = data.load_fashion_mnist()
    pad = lambda a: np.pad(data.to_float(a), ((0, 0), (0, 0), (2, 2), (2, 2)))  # noqa: E731
    Xs, ys = data.subset(X, y, n_train, seed=seed)
    return pad(Xs), ys, pad(Xt[:n_test]), yt[:n_test]


def network(depth, activation, init="torch", **switches):
    if depth == "4-layer":
        return lecture_cnn(1, 10, activation=activation)
    return alexnet(10, "cifar", in_channels=1, width=0.25, activation=activation, init=init,
                   **switches)


def relu_vs_tanh(X, y, seeds, max_steps):
    rows = []
    for depth, init in (("4-layer", "torch"), ("8-layer", "torch"), ("8-layer", "he")):
        for lr in (0.01, 0.05):
            for activation in ("relu", "tanh"):
                for seed in seeds:
                    torch.manual_seed(seed)
                    model = network(depth, activation, init, dropout=0.0)
                    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
                    batches = data.ArrayBatches(X, y, batch_size=32, shuffle=True, seed=seed)
                    steps, curve = train.steps_to_error(model, opt, batches, target=0.15,
                                                        max_steps=max_steps)
                    reach = [next((i + 1 for i, e in enumerate(curve) if i >= 19 and e <= t),
                                  None) for t in (0.25, 0.15)]
                    rows.append(dict(depth=depth, init=init, lr=lr, activation=activation,
                                     seed=seed, steps_25=reach[0], steps_15=reach[1]))
                    print(f"  {depth} {init} lr {lr} {activation} seed {seed}: {reach}",
                          file=sys.stderr, flush=True)
    return rows


def crop_flip(x, rng):
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return augment.random_crop_flip(padded, 32, rng)


def tricks(X, y, Xt, yt, seeds, epochs):
    rows = []
    configs = [("all four", (), {})] + [(f"without {t}", (t,), {}) for t in TRICKS] + [
        ("without fc7", (), {"hidden_layers": 1}),
        ("without fc6 and fc7", (), {"hidden_layers": 0}),
        ("without fc6, fc7, conv3 and conv4", (), {"hidden_layers": 0, "conv34": False})]
    for name, off, layers in configs:
        for seed in seeds:
            torch.manual_seed(seed)
            model = network("8-layer", "relu", "he", lrn="LRN" not in off,
                            overlap="overlapping pooling" not in off,
                            dropout=0.0 if "dropout" in off else 0.5, **layers)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            batches = data.ArrayBatches(X, y, batch_size=64, shuffle=True, seed=seed)
            if "augmentation" not in off:
                batches = augment.Augmented(batches, crop_flip, seed=seed)
            ce = train.supervised(torch.nn.CrossEntropyLoss())
            train.fit(model, opt, batches, loss=ce, epochs=epochs, progress=False)
            test = train.evaluate(model, data.ArrayBatches(Xt, yt, batch_size=500), loss=ce,
                                  metrics=[train.accuracy])
            rows.append(dict(config=name, seed=seed, test_error=1 - test["accuracy"]))
            print(f"  {name} seed {seed}: {1 - test['accuracy']:.4f}", file=sys.stderr,
                  flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 seed; print the tables, store nothing (unless --json)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch and BLAS threads (recorded; the results depend on it)")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="default: dlcore/stored/alexnet_ablations.json in full mode")
    parser.add_argument("--markdown", metavar="PATH", default=None,
                        help="default: experiments/alexnet_ablations.md in full mode")
    args = parser.parse_args()
    if not args.quick:
        args.json = args.json or str(STORED / "alexnet_ablations.json")
        args.markdown = args.markdown or str(ROOT / "experiments" / "alexnet_ablations.md")
    seeds = list(range(1 if args.quick else 3))
    train.set_threads(args.threads)
    start = time.time()
    X, y, Xt, yt = fashion(4000, 2000)
    activation_rows = relu_vs_tanh(X, y, seeds, max_steps=500)
    trick_rows = tricks(X, y, Xt, yt, seeds, epochs=4)
    meta = provenance(seeds, args.threads, start, time.time())
    if args.json:
        write_json(Path(args.json), dict(meta=meta, relu_vs_tanh=activation_rows,
                                         tricks=trick_rows))
    lines = [f"Measured on {meta['date']} on {meta['machine']['cpu']}, {meta['threads']} "
             f"threads, torch {meta['torch']}, commit {meta['commit'][:7]}, by "
             f"`{meta['command']}` ({meta['seconds']} s).", "",
             "| network | learning rate | activation | steps to 25% (per seed) | "
             "steps to 15% (per seed) |", "|---|---:|---|---|---|"]
    groups = {}
    for r in activation_rows:
        groups.setdefault((r["depth"], r["init"], r["lr"], r["activation"]), []).append(r)
    for (depth, init, lr, act), rs in groups.items():
        fmt = lambda k: ", ".join("—" if r[k] is None else str(r[k]) for r in rs)  # noqa: E731
        lines.append(f"| {depth}, {init} init | {lr} | {act} | {fmt('steps_25')} | "
                     f"{fmt('steps_15')} |")
    lines += ["", "| AlexNet (quarter width; all four tricks unless said) | test error, "
              "mean ± sd | per seed |",
              "|---|---:|---|"]
    configs = {}
    for r in trick_rows:
        configs.setdefault(r["config"], []).append(100 * r["test_error"])
    for name, errs in configs.items():
        lines.append(f"| {name} | {statistics.mean(errs):.1f}% ± {statistics.stdev(errs):.1f} "
                     f"| {', '.join(f'{e:.1f}' for e in errs)} |")
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
