"""docker-compose.yml describes the production topology in terms the code understands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ringtrail.cli import main
from ringtrail.settings import BY_NAME

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
# Read by the ringtrail command itself rather than by the app's configuration.


def env_of(service: dict) -> dict:
    env = service.get("environment") or {}
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_topology_has_every_part():
    assert {"redis-leases", "redis-queue", "postgres", "web", "worker"} <= set(SERVICES)


def test_lease_redis_never_evicts_and_keeps_an_aof():
    command = " ".join(SERVICES["redis-leases"]["command"])
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command


@pytest.mark.parametrize(
    ("name", "fsync"),
    # The queue commits each stashed call event before it answers (no spool write).
    [("redis-leases", "everysec"), ("redis-queue", "always")],
)
def test_both_redis_keep_an_aof_and_never_evict(name, fsync):
    command = " ".join(SERVICES[name]["command"])
    assert "--appendonly yes" in command and f"--appendfsync {fsync}" in command
    assert "--maxmemory-policy noeviction" in command


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_is_restarted_when_it_dies(name):
    assert SERVICES[name].get("restart") in {"always", "unless-stopped"}, name


def test_queues_have_their_own_redis():
    web = env_of(SERVICES["web"])
    assert web["RINGTRAIL_REDIS_URL"].startswith("redis://redis-leases:")
    assert web["RINGTRAIL_QUEUE_REDIS_URL"].startswith("redis://redis-queue:")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check_and_binds_loopback(name):
    service = SERVICES[name]
    assert "healthcheck" in service, f"{name} has no health check"
    for port in service.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_commands_are_ringtrail_subcommands(name):
    command = SERVICES[name]["command"]
    assert command[0] == "ringtrail"
    assert command[1] in main.commands, f"ringtrail has no '{command[1]}' command"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_variables_are_ones_ringtrail_reads(name):
    for variable in env_of(SERVICES[name]):
        assert variable.startswith("RINGTRAIL_"), variable
        key = variable.removeprefix("RINGTRAIL_")
        assert key in BY_NAME and BY_NAME[key].scope != "tests", f"{variable} is read by nothing"


def test_every_variable_in_compose_is_documented():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`(RINGTRAIL_[A-Z_]+)`", readme))
    used = {v for name in ("web", "worker") for v in env_of(SERVICES[name])}
    assert used <= documented, used - documented
