"""One epoch of a 784-500 RBM on the 60,000 MNIST training digits (Chapter 5), beside a peer.

    python benchmarks/bench_rbm.py [--quick] [--json PATH] [--markdown PATH]

Contrastive divergence with one Gibbs step, batches of 100, plain SGD at learning rate 0.1, pixel
intensities in [0, 1], float32 unless said. Timed in one process, median over repeats after a
warm-up (benchmarks/bench_nn.py's ``time_block``): dlcore.nn.RBM (NumPy) with CD-1 and with
persistent CD-1, dlcore.models.RBM (PyTorch on the CPU) with CD-1, and scikit-learn's
``BernoulliRBM``, which trains with persistent CD-1, in float32 and float64. The ratio is each
time over the peer's float32 time in the same run; the target for our NumPy RBM is at most 1.
"""

import argparse
import datetime
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nn import report, time_block  # noqa: E402
from machine import blas, cpu_name  # noqa: E402

from dlcore import data, nn  # noqa: E402
from dlcore.models import RBM as TorchRBM  # noqa: E402
from dlcore.models import contrastive_divergence  # noqa: E402

BATCH, HIDDEN, LR = 100, 500, 0.1


def numpy_epoch(x, persistent):
    rbm = nn.RBM(784, HIDDEN, rng=0)
    sgd = nn.optim.SGD(rbm.parameters(), lr=LR)

    def run():
        for i in range(0, len(x), BATCH):
            sgd.zero_grad()
            rbm.contrastive_divergence(x[i:i + BATCH], 1, persistent, reconstruct=False)
            sgd.step()

    return run


def torch_epoch(x):
    torch.manual_seed(0)
    rbm = TorchRBM(784, HIDDEN)
    sgd = torch.optim.SGD(rbm.parameters(), lr=LR)
    loss = contrastive_divergence(1)
    x_t = torch.from_numpy(x)

    def run():
        for i in range(0, len(x), BATCH):
            sgd.zero_grad()
            objective, _ = loss(rbm, (x_t[i:i + BATCH],))
            objective.backward()
            sgd.step()

    return run


def peer_epoch(x):
    from sklearn.neural_network import BernoulliRBM

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            BernoulliRBM(n_components=HIDDEN, learning_rate=LR, batch_size=BATCH, n_iter=1,
                         random_state=0).fit(x)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 5")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--markdown", metavar="PATH")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    import sklearn

    (X, _), _ = data.load_mnist()
    x32 = data.to_float(X).reshape(len(X), -1)
    x64 = x32.astype(np.float64)
    cases = [  # (what, run, target)
        ("scikit-learn BernoulliRBM (PCD-1), float32 — the reference", peer_epoch(x32), None),
        ("scikit-learn BernoulliRBM (PCD-1), float64", peer_epoch(x64), None),
        ("dlcore.nn.RBM (NumPy), CD-1", numpy_epoch(x32, False), 1.0),
        ("dlcore.nn.RBM (NumPy), persistent CD-1", numpy_epoch(x32, True), 1.0),
        ("dlcore.models.RBM (PyTorch, CPU), CD-1", torch_epoch(x32), None),
    ]
    rows = []
    for what, run, target in cases:
        seconds = time_block(run, repeats) / 1e3
        time.sleep(1.0)  # let the BLAS threads stop spinning before the next library
        rows.append(dict(case=what, seconds=seconds, target=target))
        print(f"  {what}: {seconds:.2f} s", file=sys.stderr, flush=True)
    reference = rows[0]["seconds"]
    meta = dict(date=datetime.date.today().isoformat(), machine=cpu_name(),
                cpus=os.cpu_count(), python=platform.python_version(), numpy=np.__version__,
                torch=torch.__version__, sklearn=sklearn.__version__, blas=blas(),
                torch_threads=torch.get_num_threads(), repeats=repeats)
    header = (f"Measured on {meta['date']} on: {meta['machine']}, {meta['cpus']} CPUs, Python "
              f"{meta['python']}; numpy {meta['numpy']} ({meta['blas']['library']}, "
              f"{meta['blas']['kernel']} kernel), torch {meta['torch']} "
              f"({meta['torch_threads']} threads), scikit-learn {meta['sklearn']}. One epoch of "
              f"a 784-{HIDDEN} RBM on the 60,000 MNIST training digits, batches of {BATCH}, "
              f"SGD at {LR}; median of {repeats} after a warm-up. Ratio: time / the "
              f"scikit-learn float32 time in the same run.")
    lines = ["| case | seconds per epoch | ratio | target | met |", "|---|---:|---:|---:|:---:|"]
    for row in rows:
        row["ratio"] = row["seconds"] / reference
        row["met"] = None if row["target"] is None else bool(row["ratio"] <= row["target"])
        goal = "—" if row["target"] is None else f"≤ {row['target']:g}"
        met = "—" if row["met"] is None else ("yes" if row["met"] else "no")
        lines.append(f"| {row['case']} | {row['seconds']:.2f} | {row['ratio']:.2f} | {goal} | "
                     f"{met} |")
    report(args, header, lines, meta, rows)


if __name__ == "__main__":
    main()
