"""The disk spool: the write-ahead log of call events on this node's local disk.

Every event a webhook accepts is written here, durably (fdatasync of the file, fsync of
the folder), before the webhook answers, and stays until its record is committed in
SQL; events that could not be queued wait here to be replayed. One JSON file per event,
named by its event id, so a webhook delivered twice is spooled once. Files are written
atomically and readable only by us (they hold caller numbers). A replaying process
claims a file by renaming it, so several gunicorn workers can replay the same folder
without submitting an event twice at once. The claim is named with the time it was
made: a file keeps the time it was spooled, which says nothing of how long its replayer
has had it.

A folder known to be empty is not listed again until it changes: its modification time
(which every file created, renamed or deleted in it moves) is noted when a listing finds
nothing, and compared before the next one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = 300  # seconds before a claim left by a dead process is taken back
SETTLED_NS = 1_000_000_000  # a folder's mtime this old cannot hide a change (coarse clocks)

_made: set[str] = set()  # folders this process has made (or found) already
_empty: dict[str, int] = {}  # folder -> its mtime (ns) when a listing last found it empty


class Spool:
    """A folder of pending call events."""

    def __init__(self, directory: str):
        self.directory = directory

    def put(self, event_id: str, event: dict[str, Any]) -> None:
        """Write one event durably (it survives a crash once this returns); raises
        OSError if even the disk fails."""
        if self.directory not in _made:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            _made.add(self.directory)
        final = self.path(event_id)
        tmp = f"{final}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except FileNotFoundError:  # the folder went away since: make it again
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(event).encode())
            os.fdatasync(fd)  # the data; the file's size comes with it
        finally:
            os.close(fd)
        os.replace(tmp, final)
        _sync_folder(self.directory)  # the rename itself

    def path(self, event_id: str) -> str:
        return os.path.join(self.directory, f"{event_id}.json")

    def discard(self, event_id: str) -> None:
        """Forget an event whose record is committed (a claimed copy stays with its
        replayer, which deletes it when done)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(event_id))

    def older_than(self, seconds: float, now: float | None = None) -> list[str]:
        """Pending event ids written more than ``seconds`` ago."""
        cutoff = (time.time() if now is None else now) - seconds
        old = []
        for event_id in self.pending():
            try:
                if os.stat(self.path(event_id)).st_mtime <= cutoff:
                    old.append(event_id)
            except FileNotFoundError:
                continue
        return old

    def pending(self) -> list[str]:
        """Event ids waiting to be replayed (no listing while the folder is known empty)."""
        try:
            mtime = os.stat(self.directory).st_mtime_ns
            if _empty.get(self.directory) == mtime:
                return []
            names = os.listdir(self.directory)
        except FileNotFoundError:
            _made.discard(self.directory)
            return []
        if not names and time.time_ns() - mtime > SETTLED_NS:
            _empty[self.directory] = mtime
        return sorted(n.removesuffix(".json") for n in names if n.endswith(".json"))

    def __len__(self) -> int:
        return len(self.pending())

    def _claims(self) -> Iterator[str]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        for name in names:
            if ".claimed." in name:
                yield os.path.join(self.directory, name)

    def replay(
        self,
        submit: Callable[[str, dict[str, Any]], None],
        ids: list[str] | None = None,
        *,
        keep: bool = False,
    ) -> int:
        """Hand every pending event (or those of ``ids``) to ``submit``; returns how many
        were replayed. With ``keep`` a replayed event stays spooled (the write-ahead log
        keeps it until its record is committed); else it is deleted.

        An event stays spooled if ``submit`` raises, and replay stops at the first
        failure: the store it needs is evidently still away.
        """
        self._release_stale_claims()
        done = 0
        for event_id in self.pending() if ids is None else ids:
            path = os.path.join(self.directory, f"{event_id}.json")
            claimed = f"{path}.claimed.{os.getpid()}.{time.time():.0f}"
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another process took it
            try:
                with open(claimed) as fh:
                    event = json.load(fh)
            except (OSError, ValueError):
                log.error("spool: unreadable event %s kept aside", claimed)
                os.rename(claimed, f"{path}.bad")
                continue
            try:
                submit(event_id, event)
            except Exception:
                _rename_quietly(claimed, path)
                log.warning("spool: replay of %s failed; will retry", event_id)
                break
            if keep:
                _rename_quietly(claimed, path)
            else:
                # Taken back as stale after CLAIM_TIMEOUT, maybe; submitting twice is
                # harmless.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(claimed)
            done += 1
        return done

    def _release_stale_claims(self) -> None:
        cutoff = time.time() - CLAIM_TIMEOUT
        for claimed in self._claims():
            _, _, tail = claimed.rpartition(".claimed.")
            _pid, _, stamp = tail.partition(".")
            try:
                claimed_at = float(stamp) if stamp else os.path.getmtime(claimed)
            except (OSError, ValueError):
                continue
            if claimed_at < cutoff:
                _rename_quietly(claimed, claimed.split(".claimed.")[0])

    def remove(self, predicate: Callable[[dict[str, Any]], bool]) -> int:
        """Delete spooled events for which ``predicate`` is true (erasure)."""
        removed = 0
        for event_id in self.pending():
            path = os.path.join(self.directory, f"{event_id}.json")
            try:
                with open(path) as fh:
                    event = json.load(fh)
            except (OSError, ValueError):
                continue
            if predicate(event):
                os.unlink(path)
                removed += 1
        return removed

    def remove_stray(self, holds: Callable[[bytes], bool]) -> int:
        """Delete files set aside as unreadable, or claimed by a replayer that died, whose
        bytes ``holds`` something (erasure); returns how many went."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return 0
        removed = 0
        for name in names:
            if not (name.endswith(".bad") or ".claimed." in name):
                continue
            path = os.path.join(self.directory, name)
            try:
                with open(path, "rb") as fh:
                    blob = fh.read()
            except OSError:
                continue
            if holds(blob):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    removed += 1
        return removed


def _sync_folder(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rename_quietly(src: str, dst: str) -> None:
    """Rename unless another replayer got there first."""
    with contextlib.suppress(FileNotFoundError):
        os.rename(src, dst)
