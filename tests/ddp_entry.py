"""``python -m dlcore.scripts.train_imagenet`` with two hooks for tests/test_distributed.py, set
through the environment (torchrun passes it to every process it starts):

- ``DLCORE_TEST_WRITES=prefix``: each ``os.replace`` (the rename that puts a checkpoint in
  place) appends the file's name to ``prefix.rank<RANK>``, so a test sees which process wrote;
- ``DLCORE_TEST_KILL_AFTER=k``: once epoch k and its checkpoint are done, every process kills
  itself with SIGKILL, as a machine failure or a scheduler's preemption would.
"""

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

kill_after = int(os.environ.get("DLCORE_TEST_KILL_AFTER", "0"))


def on_epoch_end(epoch, history):
    if epoch == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    train_imagenet.main(sys.argv[1:], on_epoch_end=on_epoch_end)
