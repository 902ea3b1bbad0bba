"""The chapters' scale-up runs: what a chapter's GPU cell trains, as one function each.

A chapter sizes its live experiments for a laptop CPU (about 80 s); its GPU cell runs the
paper-size version when a CUDA device is there. The code of those cells lives here, not in the
notebook, so that CI — which has no GPU — can still execute every line of it: each function
takes ``smoke=True``, which keeps the model, the recipe and every code path but shrinks the data
to a few batches and the schedule to an epoch or two, so that a typo cannot wait for a reader
with a GPU to find it (``tests/test_scaleup.py`` runs them all on the CPU).

Each function prints one line of what it measured and returns it as a dict. The full runs take
minutes to hours on a GPU and far longer on a CPU; nothing stops a patient reader from passing a
CPU device.

============================  ========  ==============================================
function                      chapter   full run
============================  ========  ==============================================
:func:`mlp_mnist`             2         784-256-128-10 MLP, 30 epochs of 55,000 digits
:func:`dbn_autoencoder`       5         784-1000-500-250-30 DBN autoencoder, 60,000 digits
:func:`lecture_cnn_cifar10`   7         the lectures' CNN on CIFAR-10 (a local copy)
:func:`lenet5_mnist`          7         LeNet-5 (modern or paper layout), 20 epochs, shifts
:func:`alexnet_throughput`    8         AlexNet's training throughput at 224x224
:func:`cifar_resnet20`        9         ResNet-20 on CIFAR-10, the paper's 164 epochs
============================  ========  ==============================================
"""

from __future__ import annotations

import numpy as np
import torch

from . import augment, data, models, train
from .data import ArrayBatches

__all__ = ["mlp_mnist", "dbn_autoencoder", "lecture_cnn_cifar10", "lenet5_mnist",
           "alexnet_throughput", "cifar_resnet20"]

_SMOKE_EXAMPLES = 256  # a few batches: every code path, none of the cost


def _name(device) -> str:
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)


def _cut(n: int, smoke: bool, smoke_n: int = _SMOKE_EXAMPLES) -> int:
    return min(n, smoke_n) if smoke else n


def _cross_entropy():
    return train.supervised(torch.nn.CrossEntropyLoss())


def mlp_mnist(device, *, epochs: int = 30, smoke: bool = False) -> dict:
    """Chapter 2's 784-256-128-10 ReLU network in PyTorch: SGD (learning rate 0.1, momentum
    0.9) on 55,000 MNIST digits, the learning rate divided by 10 every 10 epochs, the weights of
    the best validation epoch (the last 5,000 training digits) tested on the 10,000 test digits."""
    (X_train, y_train), (X_test, y_test) = data.load_mnist()
    X = data.to_float(X_train).reshape(-1, 784)
    n_train, n_val = _cut(55_000, smoke), _cut(5_000, smoke)
    epochs = min(epochs, 2) if smoke else epochs
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 10)).to(device)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    history = train.fit(
        net, sgd, ArrayBatches(X[:n_train], y_train[:n_train], batch_size=128, shuffle=True),
        loss=_cross_entropy(), epochs=epochs, metrics=[train.accuracy],
        val=ArrayBatches(X[55_000:55_000 + n_val], y_train[55_000:55_000 + n_val],
                         batch_size=2000),
        scheduler=torch.optim.lr_scheduler.StepLR(sgd, step_size=max(1, epochs // 3),
                                                  gamma=0.1))
    n_test = _cut(len(X_test), smoke)
    test = train.evaluate(net, ArrayBatches(data.to_float(X_test[:n_test]).reshape(-1, 784),
                                            y_test[:n_test], batch_size=2000),
                          loss=_cross_entropy(), metrics=[train.accuracy])
    result = dict(device=_name(device), epochs=history.epochs, seconds=history.seconds,
                  best_epoch=history.best_epoch, test_accuracy=test["accuracy"])
    print(f"{result['device']}: {epochs} epochs in {history.seconds:.1f} s, best epoch "
          f"{history.best_epoch}, test accuracy {test['accuracy']:.4f}")
    return result


def _pretrain_layer(i, rbm, inputs, epochs):
    gaussian = rbm.hidden == "gaussian"
    sgd = torch.optim.SGD(rbm.parameters(), lr=0.001 if gaussian else 0.05, momentum=0.9)
    train.fit(rbm, sgd, ArrayBatches(inputs.cpu().numpy(), batch_size=100, shuffle=True, seed=i),
              loss=models.contrastive_divergence(k=1, weight_decay=2e-4),
              epochs=2 * epochs if gaussian else epochs, progress=False)


def _squared_error(reconstruction: np.ndarray, X: np.ndarray) -> float:
    return float(((reconstruction - X) ** 2).sum(axis=1).mean())


def dbn_autoencoder(device, *, smoke: bool = False) -> dict:
    """Chapter 5 at the paper's size: the 784-1000-500-250-30 DBN of Hinton and Salakhutdinov
    (2006), pretrained layer by layer with CD-1 (10 epochs per binary RBM, 20 for the Gaussian
    top one) on all 60,000 training digits, unrolled and fine-tuned for 20 epochs with Adam on
    the cross-entropy; squared error per test image beside PCA with 30 components."""
    (X_train, _), (X_test, _) = data.load_mnist()
    X = data.to_float(X_train[:_cut(len(X_train), smoke)]).reshape(-1, 784)
    X_te = data.to_float(X_test[:_cut(len(X_test), smoke)]).reshape(-1, 784)
    epochs = 1 if smoke else 10
    torch.manual_seed(0)
    dbn = models.DBN([784, 1000, 500, 250, 30], top="gaussian").to(device)
    dbn.pretrain(torch.from_numpy(X).to(device),
                 lambda i, rbm, inputs: _pretrain_layer(i, rbm, inputs, epochs))
    autoencoder = dbn.unroll().to(device)
    fine = train.fit(autoencoder, torch.optim.Adam(autoencoder.parameters(), lr=1e-3),
                     ArrayBatches(X, batch_size=100, shuffle=True, seed=0),
                     loss=models.reconstruction_loss(criterion=torch.nn.BCELoss()),
                     epochs=2 * epochs, progress=not smoke)
    with torch.no_grad():
        reconstruction = autoencoder.cpu()(torch.from_numpy(X_te)).numpy()
    mean = X.mean(0)
    axes = np.linalg.svd(X - mean, full_matrices=False)[2][:30].T
    pca = (X_te - mean) @ axes @ axes.T + mean
    result = dict(device=_name(device), fine_tuning_seconds=fine.seconds,
                  error=_squared_error(reconstruction, X_te), pca_error=_squared_error(pca, X_te))
    print(f"784-1000-500-250-30 on {result['device']}: fine-tuning {fine.seconds:.0f} s; "
          f"squared error per test image {result['error']:.2f} (PCA-30 "
          f"{result['pca_error']:.2f}; paper 3.00 and 13.87)")
    return result


def lecture_cnn_cifar10(device, *, smoke: bool = False) -> dict:
    """Chapter 7's lecture CNN on CIFAR-10 with Adam: 50,000 images for 10 epochs on a GPU,
    10,000 for one on a CPU. CIFAR-10 must already be on disk (``download=False``): without it,
    :class:`dlcore.data.DataError` says where to put it."""
    (X_train, y_train), (X_test, y_test) = data.load_cifar10(download=False)
    n, epochs = (50_000, 10) if torch.device(device).type == "cuda" else (10_000, 1)
    n = _cut(n, smoke)
    X, y = data.subset(X_train, y_train, min(n, len(X_train)), seed=0)
    n_test = _cut(len(X_test), smoke)
    torch.manual_seed(0)
    net = models.lecture_cnn().to(device)
    history = train.fit(net, torch.optim.Adam(net.parameters(), lr=1e-3),
                        ArrayBatches(data.to_float(X), y, batch_size=64, shuffle=True),
                        loss=_cross_entropy(), epochs=epochs, metrics=[train.accuracy])
    test = train.evaluate(net, ArrayBatches(data.to_float(X_test[:n_test]), y_test[:n_test],
                                            batch_size=1000),
                          loss=_cross_entropy(), metrics=[train.accuracy])
    result = dict(device=_name(device), images=len(X), epochs=epochs, seconds=history.seconds,
                  test_accuracy=test["accuracy"])
    print(f"CIFAR-10, {len(X):,} images x {epochs} epochs in {history.seconds:.0f} s on "
          f"{result['device']}: test accuracy {test['accuracy']:.3f}")
    return result


def _shifted(batches, pixels: int = 1, seed: int = 0):
    """Every image moved at random by up to ``pixels`` in each direction, zeros filling the
    border (a random crop of the zero-padded image): Chapter 7's distortion."""
    pad = ((0, 0), (0, 0), (pixels, pixels), (pixels, pixels))
    return augment.Augmented(batches, lambda x, rng: augment.random_crop_flip(
        np.pad(x, pad), x.shape[-1], rng, flip=False), seed=seed)


def lenet5_mnist(device, variant: str = "modern", *, smoke: bool = False) -> dict:
    """Chapter 7's LeNet-5 for 20 epochs: SGD (0.05, momentum 0.9, weight decay 5e-4), the
    learning rate halved every 4 epochs, one-pixel random shifts, 55,000 digits with the last
    5,000 for validation. ``variant="paper"`` pads the digits to 32x32 as the paper did."""
    (X_train, y_train), (X_test, y_test) = data.load_mnist()
    prepare = ((lambda X: np.pad(X, ((0, 0), (0, 0), (2, 2), (2, 2)))) if variant == "paper"
               else (lambda X: X))
    X, X_te = prepare(data.to_float(X_train)), prepare(data.to_float(X_test))
    n_train, n_val, n_test = _cut(55_000, smoke), _cut(5_000, smoke), _cut(len(X_te), smoke)
    epochs = 2 if smoke else 20
    torch.manual_seed(0)
    net = models.lenet5(variant).to(device)
    sgd = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    history = train.fit(
        net, sgd, _shifted(ArrayBatches(X[:n_train], y_train[:n_train], batch_size=64,
                                        shuffle=True, seed=0)),
        loss=_cross_entropy(), epochs=epochs, metrics=[train.accuracy],
        val=ArrayBatches(X[55_000:55_000 + n_val], y_train[55_000:55_000 + n_val],
                         batch_size=1000),
        scheduler=torch.optim.lr_scheduler.StepLR(sgd, step_size=max(1, epochs // 5),
                                                  gamma=0.5))
    test = train.evaluate(net, ArrayBatches(X_te[:n_test], y_test[:n_test], batch_size=1000),
                          loss=_cross_entropy(), metrics=[train.accuracy])
    result = dict(device=_name(device), variant=variant, seconds=history.seconds,
                  best_epoch=history.best_epoch, test_error=1 - test["accuracy"])
    print(f"{variant:>6}: {epochs} epochs in {history.seconds:.0f} s on {result['device']}, "
          f"best epoch {history.best_epoch}, test error {100 * result['test_error']:.2f}% "
          f"(paper: 0.95%)")
    return result


def alexnet_throughput(device, *, smoke: bool = False) -> dict:
    """Chapter 8: AlexNet (torchvision's layout) trained with the paper's recipe on random
    224x224 batches of 128 for 3 epochs of 20 batches (mixed precision and channels-last on
    CUDA, as :func:`dlcore.train.fit` chooses), in images per second, and what that means for
    90 epochs of ImageNet's 1.2 million images."""
    batch, batches, epochs = (2, 2, 1) if smoke else (128, 20, 3)
    torch.manual_seed(0)
    net = models.alexnet().to(device)
    opt, _ = train.imagenet_recipe(net)
    images = torch.randn(batch * batches, 3, 224, 224).numpy()
    labels = torch.randint(0, 1000, (batch * batches,)).numpy()
    timing = train.fit(net, opt, ArrayBatches(images, labels, batch_size=batch),
                       loss=_cross_entropy(), epochs=epochs, progress=False)
    rate = len(images) * epochs / timing.seconds
    result = dict(device=_name(device), images_per_second=rate,
                  mixed_precision=timing.mixed_precision, channels_last=timing.channels_last,
                  hours_for_90_epochs=90 * 1.2e6 / rate / 3600)
    print(f"{result['device']}: {rate:,.0f} images/s (mixed precision: "
          f"{timing.mixed_precision}, channels-last: {timing.channels_last}); 90 epochs of 1.2M "
          f"images would take {result['hours_for_90_epochs']:.1f} hours")
    return result


def cifar_resnet20(device, *, smoke: bool = False) -> dict:
    """Chapter 9: the paper's ResNet-20 on CIFAR-10 with its recipe — SGD (0.1, momentum 0.9,
    weight decay 1e-4), batches of 128, 164 epochs with the learning rate divided by 10 at
    epochs 82 and 123, 4-pixel padding with random crops and flips, per-channel normalisation.
    Paper: 8.75% test error."""
    (Xc, yc), (Xc_test, yc_test) = data.load_cifar10()
    n, n_test = _cut(len(Xc), smoke), _cut(len(Xc_test), smoke)
    Xc, Xc_test = data.to_float(Xc[:n]), data.to_float(Xc_test[:n_test])  # N x 3 x 32 x 32
    mean, std = Xc.mean((0, 2, 3), keepdims=True), Xc.std((0, 2, 3), keepdims=True)
    Xc, Xc_test = ((Xc - mean) / std).astype(np.float32), ((Xc_test - mean) / std).astype(
        np.float32)
    pad4 = ((0, 0), (0, 0), (4, 4), (4, 4))
    batches = augment.Augmented(  # a fresh random crop and flip of every image, every epoch
        ArrayBatches(Xc, yc[:n], batch_size=128, shuffle=True, seed=0),
        lambda x, rng: augment.random_crop_flip(np.pad(x, pad4), 32, rng), seed=0)
    epochs, milestones = (2, [1]) if smoke else (164, [82, 123])
    torch.manual_seed(0)
    net = models.cifar_resnet(20).to(device)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    history = train.fit(net, sgd, batches, loss=_cross_entropy(), epochs=epochs,
                        val=ArrayBatches(Xc_test, yc_test[:n_test], batch_size=1000),
                        metrics=[train.accuracy],
                        scheduler=torch.optim.lr_scheduler.MultiStepLR(sgd, milestones, 0.1))
    result = dict(device=_name(device), epochs=epochs, minutes=history.seconds / 60,
                  test_error=1 - history["val accuracy"][-1])
    print(f"{result['device']}: ResNet-20, {epochs} epochs in {result['minutes']:.1f} min, "
          f"test error {result['test_error']:.2%} (paper: 8.75%)")
    return result
