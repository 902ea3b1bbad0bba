"""The API reference page: every public name of dlcore has a docstring, and api.md covers
every module (the browser test checks that the page renders)."""

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["dlcore.nn", "dlcore.nn.init", "dlcore.nn.optim", "dlcore.nn.gradient_check",
           "dlcore.nn.rbm", "dlcore.twins", "dlcore.train", "dlcore.data", "dlcore.plot",
           "dlcore.models.autoencoder", "dlcore.models.rbm", "dlcore.probe",
           "dlcore.exercises", "dlcore.ledger", "dlcore.convolution", "dlcore.models.lenet",
           "dlcore.models.alexnet", "dlcore.models.vgg", "dlcore.models.googlenet",
           "dlcore.models.resnet",
           "dlcore.models.summary", "dlcore.models.published", "dlcore.augment",
           "dlcore.linear", "dlcore.distributed", "dlcore.scripts.train_imagenet",
           "dlcore.scaleup", "dlcore.stats", "dlcore.results"]


def public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
                 and getattr(v, "__module__", None) == module.__name__]
    return [n for n in names if not inspect.ismodule(getattr(module, n))]


def undocumented(module):
    missing = []
    for name in public_names(module):
        obj = getattr(module, name)
        if not (inspect.getdoc(obj) or "").strip() or (inspect.isclass(obj) and not obj.__doc__):
            missing.append(name)
        if not inspect.isclass(obj):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_") or not (inspect.isfunction(value) or
                                            isinstance(value, property)):
                continue
            inherited = [getattr(base, attr, None) for base in obj.__mro__[1:]]
            if not (value.__doc__ or "").strip() and not any(
                    getattr(b, "__doc__", None) for b in inherited if b is not None):
                missing.append(f"{name}.{attr}")
    return missing


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_has_a_docstring(name):
    module = importlib.import_module(name)
    assert (module.__doc__ or "").strip(), f"{name} has no module docstring"
    assert undocumented(module) == [], f"undocumented in {name}"


def test_the_api_page_documents_every_module_and_is_in_the_book():
    page = (ROOT / "api.md").read_text()
    assert re.findall(r"\.\. automodule:: ([\w.]+)", page) == MODULES
    assert "api" in (ROOT / "_toc.yml").read_text().split()
    assert "{doc}`api`" in (ROOT / "intro.md").read_text()  # linked from the landing page
