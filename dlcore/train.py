"""Device choice, seeding and thread control (the first lines of every chapter), and the
training loops: :func:`fit_numpy` for the NumPy models of :mod:`dlcore.nn`, :func:`fit` and
:func:`evaluate` (top-1/top-5) for torch models. Both loops share epochs, validation, early
stopping and the progress bar."""

from __future__ import annotations

import os
import random
import time

import numpy as np

__all__ = ["device", "seed_everything", "set_threads", "minibatches", "predict_numpy",
           "evaluate_numpy", "fit_numpy", "evaluate", "fit", "History"]


def device(prefer: str | None = None):
    """The best available torch device: CUDA, then Apple's MPS, then the CPU.

    ``prefer="cpu"`` (or ``$DLCORE_DEVICE=cpu``) forces a device, e.g. to compare with a GPU run.
    """
    import torch

    prefer = prefer or os.environ.get("DLCORE_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0, deterministic: bool = True) -> np.random.Generator:
    """Seed Python, NumPy and torch; ask cuDNN and torch for deterministic kernels.

    Returns a fresh ``np.random.Generator`` seeded with ``seed``, the recommended source of
    randomness for NumPy code in the chapters. Same-machine reruns are then bit-identical;
    across CPUs, BLAS kernels may still differ in the last bits (see the book's testing notes).
    """
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # dlcore.nn and dlcore.data work without torch
        return np.random.default_rng(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        # Needed by cuBLAS for deterministic GEMMs; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def set_threads(n: int = 2) -> None:
    """Use ``n`` threads in torch and in NumPy's BLAS, so that timings and the order of float
    summations do not depend on how many cores the machine happens to have."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")


# --------------------------------------------------------------------------- NumPy models


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None = None):
    """Index arrays that cover ``range(n)`` in batches of ``batch_size`` (shuffled if ``rng``)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def predict_numpy(model, X, batch_size: int = 2000):
    """The outputs of a :mod:`dlcore.nn` model on ``X``, in eval mode, batch by batch."""
    was_training = model.training
    model.eval()
    out = np.concatenate([model(X[idx]) for idx in minibatches(len(X), batch_size)])
    model.train(was_training)
    return out


def evaluate_numpy(model, criterion, X, y, batch_size: int = 2000):
    """Mean loss and accuracy of a :mod:`dlcore.nn` classifier (eval mode, in batches)."""
    scores = predict_numpy(model, X, batch_size)
    return float(criterion(scores, y)), float(np.mean(scores.argmax(1) == y))


class History(dict):
    """Per-epoch metrics (``"train loss"``, ``"train acc"``, ``"val loss"``, ``"val acc"``) with
    the epoch whose weights were kept (``best_epoch``, 1-based) and the training time."""

    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0


def _run_epochs(train_epoch, validate, snapshot, restore, epochs, patience, scheduler, progress):
    """The loop both trainers share: epochs, validation, early stopping, a progress bar.

    ``train_epoch()`` returns (loss, accuracy) on the training data; ``validate()`` returns
    (loss, accuracy) on the validation data, or None without any; ``snapshot()`` copies the
    model's state and ``restore(state)`` puts one back.
    """
    from tqdm.auto import tqdm

    history = History({"train loss": [], "train acc": []})
    best_loss, best_state, waited = np.inf, None, 0
    start = time.perf_counter()
    bar = tqdm(total=epochs, desc="epochs", unit="epoch", disable=not progress)
    for epoch in range(1, epochs + 1):
        train_loss, train_acc = train_epoch()
        if scheduler is not None:
            scheduler.step()
        history["train loss"].append(train_loss)
        history["train acc"].append(train_acc)
        bar.update(1)
        measured = validate()
        if measured is None:
            history.best_epoch = epoch
            continue
        val_loss, val_acc = measured
        history.setdefault("val loss", []).append(val_loss)
        history.setdefault("val acc", []).append(val_acc)
        bar.set_postfix({"val acc": f"{val_acc:.4f}"})
        if val_loss < best_loss:
            best_loss, waited, history.best_epoch = val_loss, 0, epoch
            best_state = snapshot() if patience is not None else None
        else:
            waited += 1
            if patience is not None and waited >= patience:
                history.stopped_early = True
                bar.total = epoch  # a finished run, not an interrupted one
                bar.set_description(f"epochs (early stop, best {history.best_epoch})")
                break
    bar.close()
    if best_state is not None:
        restore(best_state)
    history.seconds = time.perf_counter() - start
    return history


def _check_fit_args(X, y, X_val, patience):
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)}")
    if patience is not None and X_val is None:
        raise ValueError("early stopping (patience) needs validation data X_val, y_val")


def fit_numpy(model, criterion, optimizer, X, y, X_val=None, y_val=None, epochs: int = 10,
              batch_size: int = 128, patience: int | None = None, scheduler=None, seed: int = 0,
              progress: bool = True) -> History:
    """Train a :mod:`dlcore.nn` classifier with minibatch gradient steps.

    Each epoch visits the training set in a fresh seeded order; after it, the validation
    loss and accuracy are measured. With ``patience``, training stops once the validation loss
    has not improved for that many epochs (*early stopping*), and the weights of the best epoch
    are put back. A progress bar shows the epochs.
    """
    _check_fit_args(X, y, X_val, patience)
    rng = np.random.default_rng(seed)

    def train_epoch():
        model.train()
        total_loss, correct = 0.0, 0
        for idx in minibatches(len(X), batch_size, rng):
            scores = model(X[idx])
            total_loss += float(criterion(scores, y[idx])) * len(idx)
            correct += int((scores.argmax(1) == y[idx]).sum())
            optimizer.zero_grad()
            model.backward(criterion.backward())
            optimizer.step()
        return total_loss / len(X), correct / len(X)

    return _run_epochs(
        train_epoch,
        lambda: None if X_val is None else evaluate_numpy(model, criterion, X_val, y_val),
        lambda: {k: v.copy() for k, v in model.state_dict().items()},
        model.load_state_dict, epochs, patience, scheduler, progress)


# --------------------------------------------------------------------------- torch models


def evaluate(model, loss_fn, X, y, batch_size: int = 1000, topk=(1, 5)):
    """Mean loss and top-k accuracies of a torch classifier, in eval mode and without gradients.

    Returns ``{"loss": ..., "top1": ..., "top5": ...}`` (one ``topK`` per entry of ``topk``; a
    prediction is top-k correct when the true class is among the k highest scores).
    """
    import torch

    dev = next(model.parameters()).device
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    was_training = model.training
    model.eval()
    total_loss, hits = 0.0, dict.fromkeys(topk, 0)
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb, yb = X[start:start + batch_size].to(dev), y[start:start + batch_size].to(dev)
            scores = model(xb)
            total_loss += loss_fn(scores, yb).item() * len(xb)
            ranked = scores.topk(min(max(topk), scores.shape[1]), dim=1).indices  # k <= classes
            for k in topk:
                hits[k] += (ranked[:, :k] == yb[:, None]).any(dim=1).sum().item()
    model.train(was_training)
    return {"loss": total_loss / len(X), **{f"top{k}": hits[k] / len(X) for k in topk}}


def fit(model, loss_fn, optimizer, X, y, X_val=None, y_val=None, epochs: int = 10,
        batch_size: int = 128, patience: int | None = None, scheduler=None, seed: int = 0,
        progress: bool = True) -> History:
    """Train a torch classifier on the device its parameters live on; the twin of :func:`fit_numpy`.

    Same arguments and :class:`History` as :func:`fit_numpy`; ``X, y`` may be NumPy arrays or
    tensors. The data moves to the model's device once, so move the model first
    (``model.to(device())``).
    """
    import torch

    _check_fit_args(X, y, X_val, patience)
    dev = next(model.parameters()).device
    X, y = torch.as_tensor(X).to(dev), torch.as_tensor(y).to(dev)
    order = torch.Generator().manual_seed(seed)

    def train_epoch():
        model.train()
        total_loss, correct = 0.0, 0
        for idx in torch.randperm(len(X), generator=order).split(batch_size):
            idx = idx.to(dev)
            scores = model(X[idx])
            loss = loss_fn(scores, y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(idx)
            correct += (scores.argmax(1) == y[idx]).sum().item()
        return total_loss / len(X), correct / len(X)

    def validate():
        if X_val is None:
            return None
        metrics = evaluate(model, loss_fn, X_val, y_val, topk=(1,))
        return metrics["loss"], metrics["top1"]

    return _run_epochs(
        train_epoch, validate,
        lambda: {k: v.detach().clone() for k, v in model.state_dict().items()},
        model.load_state_dict, epochs, patience, scheduler, progress)
