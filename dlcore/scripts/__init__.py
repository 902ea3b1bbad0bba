"""Command-line programs that use dlcore, run as ``python -m dlcore.scripts.<name>``:

- :mod:`dlcore.scripts.train_imagenet` — train an ImageNet architecture of :mod:`dlcore.models`
  on a folder of images, on one process or many (``torchrun``), with the paper's recipe.
"""
