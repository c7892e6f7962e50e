"""The wheel is the product: build it, install it in a fresh virtualenv, run the demo from it.

Nothing here imports the checkout. The demo runs from the installed ``ringtrail`` command,
in a folder outside the repository, so a file that only the checkout has (a template, a
Lua script, a migration, the snippet, the dashboard's CSS) makes this test fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RUNTIME_FILES = [
    "ringtrail/snippet/ringtrail.js",
    "ringtrail/static/app.css",
    "ringtrail/storage/lua/lease.lua",
    "ringtrail/web/templates/base.html",
    "ringtrail/storage/migrations/env.py",
]
# Left out of the copy the wheel is built from: VCS data and earlier build output. A stale
# build/lib would otherwise be packed into the wheel and hide a missing package-data rule.
BUILD_ARTEFACTS = {".git", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache"}


def _ignore(folder: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n in BUILD_ARTEFACTS or n.endswith(".egg-info")}
    # Any virtualenv (.venv, $RINGTRAIL_VENV, ...) is not part of the source.
    skipped |= {n for n in names if os.path.exists(os.path.join(folder, n, "pyvenv.cfg"))}
    return skipped


def _build_isolation_needed() -> bool:
    """True unless this interpreter already has what [build-system] requires."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        from packaging.requirements import Requirement
    except ImportError:
        return True
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for spec in pyproject["build-system"]["requires"]:
        req = Requirement(spec)
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            return True
        if not req.specifier.contains(installed, prereleases=True):
            return True
    return False


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def _clean_env(instance: Path) -> dict[str, str]:
    """The environment of a fresh install: no checkout on the path, embedded defaults."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RINGTRAIL_") and k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    env["RINGTRAIL_INSTANCE_PATH"] = str(instance)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _stop(proc: subprocess.Popen, instance: Path) -> None:
    """Stop the demo's process group, and the embedded Redis (which daemonises itself)."""
    redis_pid = None
    try:
        settings = json.loads((instance / "redis.db.settings").read_text())
        redis_pid = int(Path(settings["pidfile"]).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    # Anything of the group still alive (children outlive a parent killed first).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if redis_pid:
        time.sleep(0.5)  # the demo shuts its Redis down on exit; give it the chance
        try:
            cmdline = Path(f"/proc/{redis_pid}/cmdline").read_bytes()
        except OSError:
            return
        if b"redis-server" in cmdline:
            os.kill(redis_pid, signal.SIGKILL)


def _dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current = f"{current} {line}".strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
        else:
            instructions.append(current)
            current = ""
    return instructions


def test_dockerfile_installs_the_wheel():
    steps = _dockerfile_instructions()
    assert [s.split()[0] for s in steps].count("FROM") == 2, "two stages: build, then run"
    build_stage, run_stage = "\n".join(steps).split("\nFROM ")
    assert re.search(r"^RUN pip wheel .*--no-deps .*-w /wheels \.$", build_stage, re.MULTILINE)
    assert "COPY --from=build /wheels /wheels" in run_stage
    installs = [s for s in steps if "pip install" in s]
    assert len(installs) == 1 and "/wheels/ringtrail-" in installs[0]
    assert "[postgres,fast]" in installs[0]  # the PostgreSQL driver and hiredis
    assert not re.search(r"\s(-e|--editable)\b", installs[0])
    assert "COPY server" not in run_stage, "the run stage must not see the checkout"
    assert "chown ringtrail:ringtrail /var/lib/ringtrail" in run_stage
    assert "USER ringtrail" in steps
    assert "ENV RINGTRAIL_INSTANCE_PATH=/var/lib/ringtrail" in steps
    assert steps[-1] == 'CMD ["ringtrail", "serve"]'


@pytest.mark.packaging
def test_wheel_installs_and_serves_the_demo(tmp_path):
    # Build a regular wheel from a clean copy of the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_ignore, symlinks=True)
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist)]
    if not _build_isolation_needed():
        build.append("--no-build-isolation")
    _run([*build, str(source)])
    wheels = list(dist.glob("ringtrail-*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        app_css = zf.read("ringtrail/static/app.css")
    missing = [name for name in RUNTIME_FILES if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    # Every file of the package's source is in it (a template in a subfolder, a new data
    # file: a package-data rule that misses one fails here, not on a user's page).
    package = ROOT / "server" / "ringtrail"
    source_files = {
        "ringtrail/" + path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert not sorted(source_files - names), f"the wheel lacks {sorted(source_files - names)}"
    assert any(
        n.startswith("ringtrail/storage/migrations/versions/") and n.endswith(".py") for n in names
    ), "the wheel holds no Alembic revisions"
    strays = sorted(n for n in names if n.split("/")[0] in {"tests", "bench"})
    assert not strays, f"the wheel carries {strays}"

    # Install it (not editable) in a fresh virtualenv; dependencies come from the index.
    env_dir = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(env_dir)])
    python, command = env_dir / "bin" / "python", env_dir / "bin" / "ringtrail"
    _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", str(wheel)])

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    instance = outside / "instance"
    env = _clean_env(instance)
    where = _run(
        [str(python), "-c", "import ringtrail; print(ringtrail.__file__)"], cwd=outside, env=env
    )
    installed_at = Path(where.stdout.strip()).resolve()
    assert installed_at.is_relative_to(env_dir.resolve()), installed_at
    assert not installed_at.is_relative_to(ROOT), installed_at

    # Run the demo from the installed command, outside the repository.
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = outside / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(command), "demo", "--port", str(port)],
            cwd=outside,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the demo exited with {proc.returncode}:\n{log.read_text()}")
            status = None
            with contextlib.suppress(OSError):  # not listening yet
                status, _, body = _get(f"{base}/healthz")
            if status == 200:
                assert json.loads(body) == {"status": "ok"}
                break
            if time.monotonic() > deadline:
                pytest.fail(f"/healthz did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.25)

        # The demo prints a line, then its data as indented JSON (a lone "{" opens it).
        output = log.read_text()
        opening = re.search(r"^\{$", output, re.MULTILINE)
        assert opening, f"no JSON in the demo's output:\n{output}"
        info, _ = json.JSONDecoder().raw_decode(output, opening.start())
        key = info["site_key"]
        assert key

        status, ctype, body = _get(f"{base}/demo")
        page = body.decode()
        assert status == 200, page
        assert ctype.startswith("text/html")
        assert f'src="/s/{key}.js"' in page
        assert "Demo Plumbing" in page

        status, ctype, body = _get(f"{base}/s/{key}.js")
        snippet = body.decode()
        assert status == 200, snippet
        assert ctype.split(";")[0] == "text/javascript"
        assert "ringtrail" in snippet
        assert key in snippet  # the site's settings are baked in
        assert "unknown site key" not in snippet

        status, ctype, body = _get(f"{base}/static/app.css")
        assert status == 200
        assert ctype.split(";")[0] == "text/css"
        assert body == app_css  # served from the installed package
        assert (instance / "ringtrail.sqlite3").exists()
    finally:
        _stop(proc, instance)
