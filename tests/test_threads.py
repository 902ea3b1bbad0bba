"""Threads on a shared machine: dlcore asks OpenMP to let idle threads sleep, in time.

Each case runs in a fresh interpreter, since OpenMP reads the setting once, when torch loads it.
"""

import os
import subprocess
import sys

import pytest


def _python(code: str, **env):
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return subprocess.run([sys.executable, "-W", "always", "-c", code], env={**clean, **env},
                          capture_output=True, text=True, timeout=120, check=True)


def test_import_dlcore_sets_a_passive_wait_policy_unless_one_was_chosen():
    show = "import os, dlcore; print(os.environ['OMP_WAIT_POLICY'])"
    assert _python(show).stdout.strip() == "PASSIVE"
    assert _python(show, OMP_WAIT_POLICY="ACTIVE").stdout.strip() == "ACTIVE"


@pytest.mark.parametrize("imports, warned", [
    ("import dlcore, torch", False),        # the chapters' order: in time
    ("import torch, dlcore", True),         # too late, and nothing chosen: said once
])
def test_set_threads_warns_once_when_the_policy_came_too_late(imports, warned):
    out = _python(f"{imports}\nfrom dlcore import train\ntrain.set_threads(2)\n"
                  "train.set_threads(2)\ntrain.set_threads(1)")
    assert out.stderr.count("torch was imported before dlcore") == (1 if warned else 0)


def test_no_warning_when_the_environment_chose():
    out = _python("import torch, dlcore\nfrom dlcore import train\ntrain.set_threads(2)",
                  OMP_WAIT_POLICY="ACTIVE")
    assert "imported before dlcore" not in out.stderr
