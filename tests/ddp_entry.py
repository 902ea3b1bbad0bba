"""``python -m dlcore.scripts.train_imagenet`` with two hooks for tests/test_distributed.py, set
through the environment (torchrun passes it to every process it starts):

- ``DLCORE_TEST_WRITES=prefix``: each ``os.replace`` (the rename that puts a checkpoint in
  place) appends the file's name to ``prefix.rank<RANK>``, so a test sees which process wrote;
- ``DLCORE_TEST_KILL_AFTER=k``: once epoch k and its checkpoint are done, every process kills
  itself with SIGKILL, as a machine failure or a scheduler's preemption would;
- ``DLCORE_TEST_DISK_FULL=1``: process 0's ``torch.save`` fails as on a full disk.
"""

import errno
import os
import signal
import sys

from dlcore.scripts import train_imagenet

writes = os.environ.get("DLCORE_TEST_WRITES")
if writes:
    _replace = os.replace

    def _logged_replace(src, dst, *args, **kwargs):
        with open(f"{writes}.rank{os.environ.get('RANK', '0')}", "a") as log:
            log.write(os.path.basename(dst) + "\n")
        return _replace(src, dst, *args, **kwargs)

    os.replace = _logged_replace

if os.environ.get("DLCORE_TEST_DISK_FULL") and os.environ.get("RANK") == "0":
    import io

    import torch

    _save = torch.save

    def _no_space(obj, f, *args, **kwargs):
        if isinstance(f, io.BytesIO):  # not a file: torch pickles tensors for collectives so
            return _save(obj, f, *args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    torch.save = _no_space

kill_after = int(os.environ.get("DLCORE_TEST_KILL_AFTER", "0"))


def on_epoch_end(epoch, history):
    if epoch == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    train_imagenet.main(sys.argv[1:], on_epoch_end=on_epoch_end)
