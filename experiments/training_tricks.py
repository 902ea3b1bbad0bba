"""Chapter 3's comparisons with more seeds than the chapter can afford.

    python experiments/training_tricks.py            # full mode: dlcore/stored/training_tricks.json
    python experiments/training_tricks.py --quick    # what a chapter can afford; prints only

Three studies, each the code the chapter runs live, at a larger size:

- ``starts``: the 31-parameter network of five hidden layers of two ReLUs (§3.2) that can compute
  the tent map composed five times, from 200 random starts (PyTorch's default initialisation,
  ``torch.manual_seed(start)``). Per start: whether a hidden layer is dead at initialisation (both
  units zero on all of [0, 1], so the output is constant), and after 2,000 full-batch Adam steps
  (lr 0.01, 256 points) the mean squared error and whether a layer is dead at the end.
- ``grid``: a 10-hidden-layer, 128-unit MLP on 5,000 MNIST digits, 3 epochs of SGD (lr 0.05,
  momentum 0.9, batches of 64), validation accuracy on 2,000 held-out digits after each epoch;
  activation (sigmoid, tanh, ReLU) by initialisation (PyTorch's default, He, Glorot), and batch
  normalisation after every linear layer; 10 seeds (initial weights and batch order).
- ``dropout``: a 784-256-256-10 ReLU MLP trained for 40 epochs (SGD, lr 0.05, momentum 0.9,
  batches of 50) without and with dropout (p = 0.5 after both hidden layers) on 1,000 or 5,000
  MNIST digits or 1,000 Fashion-MNIST images (a class-balanced subset drawn with the seed); test
  cross-entropy and test error on the 10,000 test images; 10 seeds.

The chapter reads the JSON through ``dlcore.results.load("training_tricks")``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _provenance import ROOT, STORED, provenance, write_json  # noqa: E402,I001
from dlcore import data, nn, stats, train  # noqa: E402
from dlcore.nn import init, optim  # noqa: E402
from dlcore.train import accuracy, evaluate, fit_numpy, supervised  # noqa: E402

CE = supervised(nn.CrossEntropyLoss())


# --------------------------------------------------------------------------- starts (§3.2)

def tent(x):
    return np.where(x <= 0.5, 2 * x, 2 - 2 * x)


def tent_start(start, steps):
    torch.manual_seed(start)
    layers = [torch.nn.Linear(1, 2), torch.nn.ReLU()]
    for _ in range(4):
        layers += [torch.nn.Linear(2, 2), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(2, 1)).double()
    grid = torch.linspace(0, 1, 4097, dtype=torch.float64)[:, None]
    x_fit = torch.linspace(0, 1, 256, dtype=torch.float64)[:, None]
    y = x_fit.numpy()
    for _ in range(5):
        y = tent(y)
    y_fit = torch.from_numpy(y)

    def dead_layers():
        h, dead = grid, []
        with torch.no_grad():
            for layer in net:
                h = layer(h)
                if isinstance(layer, torch.nn.ReLU):
                    dead.append(bool((h == 0).all()))
        return dead

    at_init = dead_layers()
    adam = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(steps):
        adam.zero_grad()
        mse = torch.mean((net(x_fit) - y_fit) ** 2)
        mse.backward()
        adam.step()
    with torch.no_grad():
        mse = torch.mean((net(x_fit) - y_fit) ** 2).item()
    return dict(seed=start, dead_at_init=any(at_init), dead_layers_at_init=at_init,
                dead_at_end=any(dead_layers()), mse=mse, target_variance=float(y.var()))


# --------------------------------------------------------------------------- grid (§3.3-3.6)

def he(w, r):
    init.kaiming_normal_(w, nonlinearity="relu", rng=r)


def glorot(w, r):
    init.xavier_uniform_(w, rng=r)


ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "ReLU": nn.ReLU}
INITS = {"default": None, "He": he, "Glorot": glorot}
SETTINGS = [("sigmoid", "default", False), ("sigmoid", "He", False),
            ("ReLU", "default", False), ("ReLU", "He", False),
            ("tanh", "default", False), ("tanh", "Glorot", False),
            ("sigmoid", "default", True), ("ReLU", "He", True)]


def deep_mlp(activation, scheme=None, depth=10, width=128, seed=0, batchnorm=False):
    """The chapter's deep_mlp: scheme(weight, rng) re-initialises each hidden weight (bias 0)."""
    r, layers, fan_in = np.random.default_rng(seed), [], 784
    for _ in range(depth):
        linear = nn.Linear(fan_in, width, rng=r)
        if scheme is not None:
            scheme(linear.weight, r)
            init.zeros_(linear.bias)
        layers += [linear, nn.BatchNorm1d(width)] if batchnorm else [linear]
        layers.append(activation())
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, 10, rng=r))


def grid_run(X, y, val, act, scheme, bn, seed, epochs):
    model = deep_mlp(ACTIVATIONS[act], INITS[scheme], seed=seed, batchnorm=bn)
    sgd = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    h = fit_numpy(model, sgd, data.ArrayBatches(X, y, batch_size=64, shuffle=True, seed=seed),
                  loss=CE, epochs=epochs, val=val, metrics=[accuracy], progress=False)
    return dict(activation=act, init=scheme, batchnorm=bn, seed=seed,
                val_accuracy=[round(a, 5) for a in h["val accuracy"]],
                train_loss=[round(v, 5) for v in h["train loss"]])


# --------------------------------------------------------------------------- dropout (§3.5)

def small_mlp(p, seed, width=256):
    r = np.random.default_rng(100 + seed)
    drop = (lambda: [nn.Dropout(p, rng=r)]) if p else (lambda: [])
    model = nn.Sequential(nn.Linear(784, width, rng=r), nn.ReLU(), *drop(),
                          nn.Linear(width, width, rng=r), nn.ReLU(), *drop(),
                          nn.Linear(width, 10, rng=r))
    model[0].needs_input_grad = False
    return model


def dropout_run(X, y, test, dataset, n, p, seed, epochs):
    model = small_mlp(p, seed)
    sgd = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    h = fit_numpy(model, sgd, data.ArrayBatches(X, y, batch_size=50, shuffle=True, seed=seed),
                  loss=CE, epochs=epochs, metrics=[accuracy], progress=False)
    fitted = evaluate(model, data.ArrayBatches(X, y, batch_size=1000), loss=CE,
                      metrics=[accuracy])
    tested = evaluate(model, test, loss=CE, metrics=[accuracy])
    fit_at = next((e + 1 for e, a in enumerate(h["train accuracy"]) if a == 1.0), None)
    return dict(dataset=dataset, n=n, p=p, seed=seed, epochs=epochs,
                first_epoch_all_right=fit_at, test_ce=round(tested["loss"], 5),
                test_error=round(1 - tested["accuracy"], 5),
                train_ce=round(fitted["loss"], 6), train_error=round(1 - fitted["accuracy"], 5),
                train_loss=[round(v, 5) for v in h["train loss"]])


def load(name):
    (X, y), (Xt, yt) = data.load_mnist() if name == "MNIST" else data.load_fashion_mnist()
    X = data.to_float(X).reshape(-1, 784)
    return X, y, data.ArrayBatches(data.to_float(Xt).reshape(-1, 784), yt, batch_size=2000)


# --------------------------------------------------------------------------- report

def fmt(c):
    d = c.difference
    return f"{d.estimate:+.4f} [{d.low:+.4f}, {d.high:+.4f}] {c.verdict}"


def report(meta, starts, grid, drops):
    lines = [f"Measured on {meta['date']} on {meta['machine']['cpu']}, {meta['threads']} "
             f"threads, torch {meta['torch']}, commit {meta['commit'][:7]}, by "
             f"`{meta['command']}` ({meta['seconds']} s). Differences are paired over seeds "
             f"(mean [95% t-interval] and dlcore.stats verdict).", ""]
    dead = [s for s in starts if s["dead_at_init"]]
    alive = [s for s in starts if not s["dead_at_init"]]
    var = starts[0]["target_variance"]
    better = [s for s in alive if s["mse"] < var - 1e-3]
    lines += ["## starts: five hidden layers of two ReLUs, tent map composed five times", "",
              f"{len(starts)} starts; a hidden layer dead at initialisation: {len(dead)}; "
              f"alive: {len(alive)}. After training, alive starts whose error is more than "
              f"0.001 below the constant's ({var:.5f}): {len(better)}; smallest error "
              f"{min(s['mse'] for s in starts):.5f}; alive starts with a dead layer at the "
              f"end: {sum(s['dead_at_end'] for s in alive)}.", ""]
    lines += ["## grid: 10 hidden layers of 128, 5,000 MNIST digits", "",
              "| activation | init | batch norm | val. accuracy after the last epoch "
              "(mean [95%]) |", "|---|---|---|---|"]
    for act, scheme, bn in SETTINGS:
        acc = [r["val_accuracy"][-1] for r in grid
               if (r["activation"], r["init"], r["batchnorm"]) == (act, scheme, bn)]
        if len(acc) > 1:
            lines.append(f"| {act} | {scheme} | {'yes' if bn else 'no'} | "
                         f"{stats.interval(acc).format(3)} |")
    lines += ["", "## dropout: 784-256-256-10, 40 epochs", "",
              "| data | test error, dropout - none | test cross-entropy, dropout - none |",
              "|---|---|---|"]
    for dataset, n in sorted({(r["dataset"], r["n"]) for r in drops}):
        pick = lambda p, key: [r[key] for r in drops  # noqa: E731
                               if (r["dataset"], r["n"], r["p"]) == (dataset, n, p)]
        if len(pick(0.0, "seed")) > 1:
            err = stats.compare_paired(pick(0.5, "test_error"), pick(0.0, "test_error"),
                                       expected="less")
            ce = stats.compare_paired(pick(0.5, "test_ce"), pick(0.0, "test_ce"),
                                      expected="less")
            lines.append(f"| {dataset}, {n:,} | {fmt(err)} | {fmt(ce)} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, 20 starts, fewer settings; print, store nothing")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads (recorded; the results depend on it); "
                             "1 by default: these networks are small, and the other core "
                             "stays free")
    args = parser.parse_args()
    seeds = [0, 1] if args.quick else list(range(10))
    n_starts, steps = (20, 500) if args.quick else (200, 2000)
    regimes = [("MNIST", 1000)] if args.quick else [("MNIST", 1000), ("MNIST", 5000),
                                                     ("Fashion-MNIST", 1000)]
    train.set_threads(args.threads)
    start = time.time()
    starts = [tent_start(s, steps) for s in range(n_starts)]
    print(f"starts: {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    X, y, _ = load("MNIST")
    X5k, y5k = data.subset(X[:55_000], y[:55_000], 5000, seed=0)
    val = data.ArrayBatches(X[55_000:57_000], y[55_000:57_000], batch_size=1000)
    settings = SETTINGS[:4] if args.quick else SETTINGS
    grid = [grid_run(X5k, y5k, val, act, scheme, bn, seed, 1 if args.quick else 3)
            for seed in seeds for act, scheme, bn in settings]
    print(f"grid: {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    drops = []
    for dataset, n in regimes:
        X, y, test = load(dataset)
        for seed in seeds:
            Xn, yn = data.subset(X[:55_000], y[:55_000], n, seed=seed)
            for p in (0.0, 0.5):
                drops.append(dropout_run(Xn, yn, test, dataset, n, p, seed, 40))
                r = drops[-1]
                print(f"  {dataset} {n} p={p} seed {seed}: test error {r['test_error']:.4f}, "
                      f"CE {r['test_ce']:.3f}", file=sys.stderr, flush=True)
    meta = provenance(seeds, args.threads, start, time.time(), starts=n_starts,
                      adam_steps=steps)
    lines = report(meta, starts, grid, drops)
    if not args.quick:
        write_json(STORED / "training_tricks.json",
                   dict(meta=meta, starts=starts, grid=grid, dropout=drops))
        (ROOT / "experiments" / "training_tricks.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
