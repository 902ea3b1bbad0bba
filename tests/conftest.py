"""Shared fixtures. No test here touches the network except the real-data tests, which download
only when the files are neither in $DLCORE_DATA nor in the user cache (e.g. on a fork's CI)."""

import os

# Before anything imports torch: OpenMP threads sleep when idle (see dlcore/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")
