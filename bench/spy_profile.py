"""Where the workers' time goes under load: py-spy on every gunicorn worker of an app
while wrk drives it (``python bench/hotpaths.py --profile``). Named spy_profile: bench/ is
on sys.path, and a bench/profile.py would hide the standard library's profile.

py-spy (``pip install py-spy``) samples each worker; the collapsed stacks are summed
into the share of samples in which a function is on the stack (inclusive), so that
"submit 40 %" means 40 % of the worker's busy samples were inside ``submit`` (threads,
gunicorn and Flask's dispatch left out), and the functions most often at the top of the
stack (self).
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Frames every request has (threads, gunicorn, Flask's dispatch): left out of the summary.
GENERIC = ("threading.py", "concurrent/futures/", "gunicorn/", "flask/app.py")
FRAME = re.compile(r"^(?P<name>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def py_spy() -> str:
    """py-spy next to this Python (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    return found


def start(pids: list[int], seconds: int, out: Path) -> list[tuple[subprocess.Popen, Path]]:
    """Start one py-spy per worker, recording collapsed stacks for ``seconds``."""
    running = []
    for pid in pids:
        path = out / f"pyspy-{pid}.txt"
        cmd = [py_spy(), "record", "--pid", str(pid), "--duration", str(seconds)]
        cmd += ["--rate", "200", "--format", "raw", "--output", str(path)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running.append((proc, path))
    return running


def summarise(running: list[tuple[subprocess.Popen, Path]], top: int = 25) -> dict:
    """Wait for the recorders; the inclusive share of samples per function."""
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for proc, path in running:
        proc.wait(120)
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            seen = set()
            name = ""
            for frame in stack.split(";"):
                found = FRAME.match(frame.strip())
                if not found:
                    continue
                name = f"{found['name']} ({shorten(found['file'])})"
                if name not in seen and not any(g in found["file"] for g in GENERIC):
                    seen.add(name)
                    inclusive[name] += n
            leaf[name] += n
    return {
        "samples": total,
        "inclusive_percent": {
            name: round(100 * n / total, 1) for name, n in inclusive.most_common(top)
        }
        if total
        else {},
        "self_percent": {name: round(100 * n / total, 1) for name, n in leaf.most_common(12)}
        if total
        else {},
    }


def shorten(file: str) -> str:
    """A module path from site-packages or the source tree, not the whole file path."""
    for marker in ("site-packages/", "server/", "lib/python"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file
