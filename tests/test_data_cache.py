"""dlcore.data.fetch with a cache that several processes share (torchrun ranks, two notebooks):
one download per file under a lock beside it, no file of anyone else's ever removed, and a lock
that cannot make a loader hang. The network is a local HTTP server on 127.0.0.1 or the fake
``_urlopen`` of the other data tests."""

import errno
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dlcore import data
from dlcore.data import DataError

fcntl = pytest.importorskip("fcntl")  # the tests hold and probe locks as another process would

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = bytes(range(256)) * 800  # 204,800 bytes: several reads, so a download takes a while


def spec_for(payload, urls):
    return data.RemoteFile("blob.bin", tuple(urls), hashlib.md5(payload).hexdigest(),
                           hashlib.sha256(payload).hexdigest(), len(payload))


class SlowServer(http.server.ThreadingHTTPServer):
    """Serves PAYLOAD in two halves: the second only once the test calls ``finish()``, so a
    download is in progress for as long as the test wants. Counts the requests."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SlowHandler)
        self.requests, self.first_half, self.release = [], threading.Event(), threading.Event()

    def url(self, name="blob.bin"):
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD[:len(PAYLOAD) // 2])
        self.wfile.flush()
        self.server.first_half.set()
        self.server.release.wait(60)
        self.wfile.write(PAYLOAD[len(PAYLOAD) // 2:])

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server():
    srv = SlowServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


# A process that loads the file when told to: it prints "ready" once imported (so both
# processes are past Python's start-up), waits for a line on stdin, then fetches.
FETCHER = """
import json, sys
from dlcore import data
spec = json.loads(sys.argv[1])
spec = data.RemoteFile(spec["name"], tuple(spec["urls"]), spec["md5"], spec["sha256"], spec["size"])
print("ready", flush=True)
sys.stdin.readline()
print("fetching", flush=True)
print(data.fetch(spec, "blobs", root=sys.argv[2]), flush=True)
"""


def start_fetcher(spec, root):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(no_proxy="127.0.0.1", PYTHONPATH=str(ROOT), DLCORE_DATA="")
    proc = subprocess.Popen(
        [sys.executable, "-c", FETCHER,
         json.dumps({"name": spec.name, "urls": list(spec.urls), "md5": spec.md5,
                     "sha256": spec.sha256, "size": spec.size}), str(root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT, env=env)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def go(proc):
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "fetching"


def test_two_processes_fetching_one_file_both_succeed_with_one_download(tmp_path, server):
    folder = tmp_path / "blobs"
    folder.mkdir()
    users = {"tmp_notes": b"mine", "tmp_my_notes": b"also mine", "tmpa1b2c3d4": b"someone's"}
    for name, content in users.items():
        (folder / name).write_bytes(content)
    spec = spec_for(PAYLOAD, [server.url()])
    first, second = start_fetcher(spec, tmp_path), start_fetcher(spec, tmp_path)
    try:
        go(first)
        assert server.first_half.wait(60), "the first process never started its download"
        go(second)  # while the first download is half done
        time.sleep(1.0)  # time for the second to reach the lock (or, unlocked, the network)
        server.release.set()
        outs = [p.communicate(timeout=120) for p in (first, second)]
    finally:
        for p in (first, second):
            p.kill() if p.poll() is None else None
    for p, (out, err) in zip((first, second), outs):
        assert p.returncode == 0, err
        assert out.strip().splitlines()[-1] == str(folder / "blob.bin")
    assert server.requests == ["/blob.bin"]  # the second found the file verified: no download
    assert (folder / "blob.bin").read_bytes() == PAYLOAD
    assert {n: (folder / n).read_bytes() for n in users} == users  # nobody else's file touched
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*users, "blob.bin", "blob.bin.lock"])  # and nothing of the download's left over


# --------------------------------------------------------------------------- one process


class TrickleResponse(io.BytesIO):
    """A response that hands out its payload a little at a time."""

    def __init__(self, payload, delay):
        super().__init__(payload)
        self.headers, self.delay = {"Content-Length": str(len(payload))}, delay

    def read(self, n=-1):
        time.sleep(self.delay)
        return super().read(min(n, 4096) if n > 0 else 4096)


@pytest.fixture
def slow_network(monkeypatch):
    """``_urlopen`` serving PAYLOAD slowly (about 1.5 s) and counting requests."""
    requests = []

    def urlopen(url):
        requests.append(url)
        return TrickleResponse(PAYLOAD, delay=0.03)

    monkeypatch.setattr(data, "_urlopen", urlopen)
    monkeypatch.delenv("DLCORE_DATA", raising=False)
    monkeypatch.setattr(data, "_LOCK_POLL_S", 0.05, raising=False)
    return requests


def test_two_threads_share_one_download_even_past_the_stall_limit(tmp_path, slow_network,
                                                                  monkeypatch):
    # The waiter gives up only when the download stops moving: this one moves for about 1.5 s,
    # three times the limit, and the waiter still gets the file without a second download.
    monkeypatch.setattr(data, "_LOCK_STALL_S", 0.5, raising=False)
    spec = spec_for(PAYLOAD, ["http://mirror.invalid/blob.bin"])
    results = {}

    def load(key):
        try:
            results[key] = data.fetch(spec, "blobs", root=tmp_path)
        except Exception as e:  # noqa: BLE001 -- reported by the assertion below
            results[key] = e

    threads = [threading.Thread(target=load, args=(k,)) for k in "ab"]
    threads[0].start()
    time.sleep(0.3)
    threads[1].start()
    for t in threads:
        t.join(60)
    assert results == {"a": tmp_path / "blobs" / "blob.bin", "b": tmp_path / "blobs" / "blob.bin"}
    assert len(slow_network) == 1


def hold_lock(path):
    """Take the lock the way another process would (a plain flock), to test the waiter."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_lock_held_without_progress_is_a_clear_error_not_a_hang(tmp_path, slow_network,
                                                                 monkeypatch):
    monkeypatch.setattr(data, "_LOCK_STALL_S", 0.5, raising=False)
    spec = spec_for(PAYLOAD, ["http://mirror.invalid/blob.bin"])
    (tmp_path / "blobs").mkdir()
    lock = tmp_path / "blobs" / "blob.bin.lock"
    fd = hold_lock(lock)
    try:
        start = time.monotonic()
        with pytest.raises(DataError) as e:
            data.fetch(spec, "blobs", root=tmp_path)
        assert time.monotonic() - start < 10
    finally:
        os.close(fd)
    message = str(e.value)
    assert str(lock) in message and "no progress" in message and "\n" not in message
    assert slow_network == []  # it never downloaded behind the holder's back


def test_the_lock_is_released_after_a_failed_download(tmp_path, monkeypatch):
    monkeypatch.delenv("DLCORE_DATA", raising=False)
    spec = spec_for(PAYLOAD, ["http://mirror.invalid/blob.bin"])

    def offline(url):
        raise OSError("offline")

    monkeypatch.setattr(data, "_urlopen", offline)
    for _ in range(2):  # the second attempt would hang or time out on a leaked lock
        with pytest.raises(DataError, match="could not be downloaded"):
            data.fetch(spec, "blobs", root=tmp_path)
    fd = os.open(tmp_path / "blobs" / "blob.bin.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: raises BlockingIOError if held
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- read-only caches


@pytest.fixture
def read_only(monkeypatch):
    """Make a folder read-only, also for root (who ignores permission bits): creating a file or
    folder in it fails with EACCES, as it does for everyone else."""

    def make(folder):
        folder.chmod(0o555)
        if os.geteuid() != 0:
            return
        real_open, real_mkdir = os.open, os.mkdir

        def refuse(path):
            if Path(path).resolve().parent == folder.resolve():
                raise PermissionError(errno.EACCES, "Permission denied", str(path))

        def guarded_open(path, flags, *args, **kwargs):
            if flags & os.O_CREAT and not Path(path).exists():
                refuse(path)
            return real_open(path, flags, *args, **kwargs)

        def guarded_mkdir(path, *args, **kwargs):
            refuse(path)
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", guarded_open)
        monkeypatch.setattr(os, "mkdir", guarded_mkdir)

    yield make


def test_a_read_only_cache_with_the_file_verified_loads_without_a_lock(tmp_path, slow_network,
                                                                      read_only):
    folder = tmp_path / "blobs"
    folder.mkdir()
    (folder / "blob.bin").write_bytes(PAYLOAD)
    read_only(folder)
    try:
        spec = spec_for(PAYLOAD, ["http://mirror.invalid/blob.bin"])
        assert data.fetch(spec, "blobs", root=tmp_path) == folder / "blob.bin"
        assert [p.name for p in folder.iterdir()] == ["blob.bin"]  # no lock file created
        assert slow_network == []
    finally:
        folder.chmod(0o755)


def test_a_read_only_cache_missing_the_file_is_a_clear_error(tmp_path, slow_network, read_only):
    folder = tmp_path / "blobs"
    folder.mkdir()
    read_only(folder)
    try:
        spec = spec_for(PAYLOAD, ["http://mirror.invalid/blob.bin"])
        with pytest.raises(DataError) as e:
            data.fetch(spec, "blobs", root=tmp_path)
    finally:
        folder.chmod(0o755)
    message = str(e.value)
    assert f"cannot create the lock file {folder / 'blob.bin.lock'}" in message
    assert "Permission denied" in message and "DLCORE_DATA" in message and "\n" not in message
    assert slow_network == []
