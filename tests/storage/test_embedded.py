"""The embedded Redis: AOF, private files, a restart that keeps the data, and a server
that dies with the process that started it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import redis as redis_lib

from ringtrail.storage.embedded import AOF_FILE, DB_FILE, EmbeddedRedis
from tests.faults import wait_for


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_9_loses_nothing_older_than_a_second_and_files_are_private(tmp_path):
    server = EmbeddedRedis(str(tmp_path / "instance"))
    client = redis_lib.Redis.from_url(server.start())
    try:
        client.set("lease", "held")
        time.sleep(1.5)  # appendfsync everysec
        server.proc.kill()
        server.proc.wait(5)
        assert server.ensure()  # restarted from its AOF
        assert client.get("lease") == b"held"
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "instance").iterdir()}
        assert modes[AOF_FILE] == 0o600
        assert stat.S_IMODE((tmp_path / "instance").stat().st_mode) == 0o700
    finally:
        client.close()
        server.stop()


def test_an_install_from_before_aof_keeps_its_data(tmp_path):
    """Redis with AOF on reads only the AOF: the first start loads the old RDB file."""
    folder = tmp_path / "instance"
    server = EmbeddedRedis(str(folder))
    client = redis_lib.Redis.from_url(server.start())
    client.set("visit", "kept")
    client.save()
    client.close()
    server.stop()
    os.unlink(folder / AOF_FILE)  # as an older release left it: redis.db alone
    assert (folder / DB_FILE).exists()
    again = EmbeddedRedis(str(folder))
    client = redis_lib.Redis.from_url(again.start())
    try:
        assert client.get("visit") == b"kept"
        wait_for(lambda: (folder / AOF_FILE).stat().st_size > 0, 10, "the AOF written")
        again.proc.kill()
        again.proc.wait(5)
        again.ensure()
        assert client.get("visit") == b"kept"  # now from the AOF
    finally:
        client.close()
        again.stop()


def test_the_server_dies_with_the_process_that_started_it_even_after_sigkill(tmp_path):
    folder = tmp_path / "instance"
    code = (
        "import sys, time\n"
        "from ringtrail.storage.embedded import EmbeddedRedis\n"
        f"server = EmbeddedRedis({str(folder)!r})\n"
        "server.start()\n"
        "print(server.proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        pid = int(parent.stdout.readline())
        assert _alive(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        wait_for(lambda: not _alive(pid), 10, "the orphaned redis-server gone")
    finally:
        parent.stdout.close()
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
    # A new parent cleans up the dead server's socket and starts its own.
    server = EmbeddedRedis(str(folder))
    client = redis_lib.Redis.from_url(server.start())
    try:
        assert client.ping()
    finally:
        client.close()
        server.stop()
