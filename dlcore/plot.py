"""The figures the chapters share: image grids, decision boundaries, learning curves,
computational graphs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["use_book_style", "DIVERGING", "signed_image", "image_grid", "decision_boundary",
           "learning_curves", "computational_graph"]


#: The book's one colour map for signed values: red positive, blue negative, white zero.
DIVERGING = "RdBu_r"


def use_book_style() -> None:
    """Figure defaults for the book: readable at the column's width, moderate DPI.

    Figures are 6.8 inches wide at 100 dpi: the PNG (about 680 pixels) is shown at its own
    size in the book's 688-pixel column, so 10-point text is about 14 pixels high and tick
    labels (9 points) about 12. A wider figure is scaled down and its text with it; keep
    figures at most 7 inches wide (tests/test_conventions.py checks the revised chapters).
    """
    plt.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (6.8, 3.6),
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "image.cmap": "gray",
    })


def signed_image(ax, values, *, limit: float | None = None, colorbar: bool = True,
                 label: str | None = None):
    """Show a 2-D array of signed values in the book's diverging colours (:data:`DIVERGING`:
    red positive, blue negative, white zero), with limits symmetric about zero and a colour
    bar; no ticks. ``limit`` defaults to the largest absolute value. Returns the image."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"signed_image shows a 2-D array (e.g. weights reshaped to 28×28), "
                         f"got shape {values.shape}")
    if limit is None:
        limit = float(np.abs(values).max()) or 1.0
    if not limit > 0:
        raise ValueError(f"limit must be positive, got {limit!r}")
    im = ax.imshow(values, cmap=DIVERGING, vmin=-limit, vmax=limit)
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        bar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if label:
            bar.set_label(label)
    return im


def image_grid(images, labels=None, classes=None, ncols=10, size=1.0, title=None, cmap="gray"):
    """Show images (N×H×W, N×H×W×3 or N×1×H×W) in a grid with optional captions.

    ``labels`` are integers (mapped through ``classes`` when given) or strings.
    Returns the figure.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)  # N×C×H×W -> N×H×W×C
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4):
        raise ValueError(f"expected N×H×W or N×H×W×3 images, got shape {images.shape}")
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    caption = labels is not None
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.25 * caption) * nrows),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(images[i], cmap=cmap if images.ndim == 3 else None)
        if caption:
            label = labels[i]
            if classes is not None and not isinstance(label, str):
                label = classes[int(label)]
            ax.set_title(str(label), fontsize=8, pad=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.3)
    return fig


def decision_boundary(predict, X, y, ax=None, resolution=200, margin=0.5, title=None,
                      scores=False, labels=("class 0", "class 1"), colorbar=True,
                      score_label=None):
    """Scatter 2-D points ``X`` coloured by ``y`` over the regions a classifier assigns.

    ``predict`` maps an (M, 2) array to M class labels (the values found in ``y``, e.g. 0/1
    or -1/+1), or to M real scores when ``scores=True``. Then the shading shows the score and
    a line marks score 0.5 or 0: 0.5 if every score lies in [0, 1] (read as a probability,
    shaded on the fixed scale 0 to 1, so panels compare), else 0. With ``colorbar`` (the
    default) a colour bar beside the axes gives the value of each shade, labelled
    ``score_label``: by default "P(y = 1 | x)" for scores in [0, 1], else "score".
    ``labels`` name the classes in sorted order of their values.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-D inputs: expected X of shape (N, 2), got {X.shape}")
    ax = ax or plt.subplots(figsize=(4.6, 4) if scores and colorbar else (4, 4))[1]
    lo, hi = X.min(0) - margin, X.max(0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    z = np.asarray(predict(np.c_[g0.ravel(), g1.ravel()]), dtype=float).reshape(g0.shape)
    y = np.asarray(y)
    classes = np.unique(y)
    if scores:
        probability = z.min() >= 0 and z.max() <= 1
        level = 0.5 if probability else 0.0
        shading = ax.contourf(g0, g1, z, levels=np.linspace(0, 1, 21) if probability else 20,
                              cmap="RdBu_r", alpha=0.35)
        if z.min() < level < z.max():
            ax.contour(g0, g1, z, levels=[level], colors="k", linewidths=1.5)
        if colorbar:
            if score_label is None:
                score_label = "$P(y = 1 \\mid x)$" if probability else "score"
            bar = ax.figure.colorbar(shading, ax=ax, fraction=0.046, pad=0.03)
            bar.set_label(score_label)
            if probability:
                bar.set_ticks([0, 0.25, 0.5, 0.75, 1])
    else:
        # Regions by class position (labels may be 0/1, ±1, ...), one colour band per class.
        position = np.searchsorted(classes, z)
        ax.contourf(g0, g1, position, levels=np.arange(len(classes) + 1) - 0.5, cmap="RdBu_r",
                    alpha=0.25)
    styles = [("o", "tab:blue"), ("s", "tab:red"), ("^", "tab:green"), ("D", "tab:purple")]
    for i, c in enumerate(classes):
        m = y == c
        marker, color = styles[i % len(styles)]
        ax.scatter(X[m, 0], X[m, 1], marker=marker, c=color, edgecolors="k", s=30,
                   label=labels[i] if i < len(labels) else f"class {c}")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def learning_curves(history, keys=None, ax=None, xlabel="epoch", ylabel=None, title=None, logy=False):
    """Plot per-epoch metrics from a dict of lists, e.g. ``{"train loss": [...], "val loss": [...]}``."""
    keys = list(keys or history)
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    for k in keys:
        values = np.asarray(history[k], dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) < 30 else None,
                ms=3, label=k)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or ", ".join(keys))
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(keys) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return ax


def computational_graph(nodes, edges, values=None, ax=None, title=None):
    """Draw a computational graph as a circuit: values in boxes, operations in circles, with
    each value's number (green, above it) and the gradient of the loss with respect to it
    (red, below it).

    ``nodes`` maps a name to ``(x, y, label)`` for a value, ``(x, y, label, "op")`` for an
    operation, or ``(x, y, label, "param")`` for a parameter (its texts go above it, since its
    edge leaves downwards); ``edges`` is a list of ``(source, target)``; ``values`` maps a node
    to ``(forward_text, gradient_text)``. Returns the axes.
    """
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    values = values or {}
    styles = {"op": dict(boxstyle="circle,pad=0.25", fc="#fdf6e3"),
              "param": dict(boxstyle="round,pad=0.35", fc="#eeeeee"),
              "value": dict(boxstyle="round,pad=0.35", fc="#e8f0fb")}
    for name, (x, y, label, *kind) in nodes.items():
        kind = kind[0] if kind else "value"
        ax.text(x, y, label, ha="center", va="center", fontsize=10, zorder=3,
                bbox=dict(ec="0.3", lw=1, **styles[kind]))
        forward, gradient = values.get(name, ("", ""))
        if kind == "param":
            ax.text(x, y + 0.3, "\n".join(t for t in (forward, gradient) if t), ha="center",
                    va="bottom", fontsize=8.5, color="tab:red")
            continue
        if forward:
            ax.text(x, y + 0.3, forward, ha="center", va="bottom", fontsize=8.5,
                    color="tab:green")
        if gradient:
            ax.text(x, y - 0.3, gradient, ha="center", va="top", fontsize=8.5, color="tab:red")
    for source, target in edges:
        (x0, y0, *_), (x1, y1, *_) = nodes[source], nodes[target]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=1,
                    arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.2,
                                    shrinkA=14, shrinkB=14))
    xs = [v[0] for v in nodes.values()]
    ys = [v[1] for v in nodes.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.9)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
