"""Autosizing settings through the admin API and the command line: validated, tenant
scoped, money only for agency admins, audited; the job's dry run from the CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ringtrail.accounts import pool_autosize
from ringtrail.accounts.auth import cli_principal
from ringtrail.cli import main
from ringtrail.storage.models import AuditEntry, PoolAutosize, TrackingNumber
from tests.helpers import bearer, log_in, make_site, make_user, new_key
from tests.reports.test_autosizer import busy_week

URL = "/api/v1/pools/{}/autosizing"


@pytest.mark.postgres
def test_settings_through_the_api(app, client, db):
    setup = make_site(db, numbers=2)
    other = make_site(db, numbers=1, number_start=50)
    agency = bearer(new_key(app, setup.agency.id))
    manager = bearer(new_key(app, setup.agency.id, setup.client.id))
    url = URL.format(setup.pool.id)

    got = client.get(url, headers=agency)
    assert got.status_code == 200
    body = got.get_json()
    assert (body["enabled"], body["target_overflow"], body["currency"]) == (False, 0.01, "USD")
    assert body["last_plan"] is None

    changed = client.patch(
        url,
        json={"enabled": True, "max_numbers": 40, "monthly_cap_minor": 5000, "currency": "usd"},
        headers=agency,
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert (changed.get_json()["max_numbers"], changed.get_json()["currency"]) == (40, "USD")
    row = db.get(PoolAutosize, setup.pool.id)
    db.refresh(row)
    assert row.enabled is True and row.monthly_cap_minor == 5000

    for body, status in (
        ({"min_numbers": 50}, 422),
        ({"target_overflow": "0.1"}, 422),
        ({"target_overflow": 0}, 422),
        ({"enabled": 1}, 422),
        ({"currency": "EURO"}, 422),
        ({}, 422),
    ):
        answer = client.patch(url, json=body, headers=agency)
        assert answer.status_code == status, (body, answer.get_data(as_text=True))
        assert answer.get_json()["error"]
    refused = client.patch(url, json={"max_numbers": 400}, headers=manager)
    assert refused.status_code == 403 and "spends money" in refused.get_json()["error"]
    assert client.patch(url, json={"cooldown_seconds": 3600}, headers=manager).status_code == 200
    # Another agency's pool does not exist for this key.
    assert client.get(URL.format(other.pool.id), headers=agency).status_code == 404
    assert (
        client.patch(URL.format(other.pool.id), json={"enabled": True}, headers=agency).status_code
        == 404
    )
    actions = db.scalars(
        select(AuditEntry.object_type).where(AuditEntry.object_type == "pool_autosizing")
    ).all()
    assert len(actions) == 2


@pytest.mark.postgres
def test_settings_and_a_dry_run_from_the_command_line(app, db):
    setup = make_site(db, numbers=3)
    busy_week(db, setup.pool.id, datetime.now(UTC))
    runner = app.test_cli_runner()
    shown = runner.invoke(
        main,
        [
            "pool",
            "autosizing",
            str(setup.pool.id),
            "--enable",
            "--max",
            "10",
            "--monthly-cap",
            "100 USD",
            "--cooldown-hours",
            "24",
            "--json",
        ],
    )
    assert shown.exit_code == 0, shown.output
    settings = json.loads(shown.output)
    assert (settings["enabled"], settings["max_numbers"], settings["monthly_cap_minor"]) == (
        True,
        10,
        10000,
    )
    assert settings["cooldown_seconds"] == 86400
    bad = runner.invoke(main, ["pool", "autosizing", str(setup.pool.id), "--min", "20"])
    assert bad.exit_code == 1 and "above the maximum" in bad.output
    bad = runner.invoke(main, ["pool", "autosizing", str(setup.pool.id), "--monthly-cap", "lots"])
    assert bad.exit_code == 1 and "not a price" in bad.output
    for words in (["pool", "autosize"], ["pools", "autosize"]):
        dry = runner.invoke(main, [*words, "--dry-run", "--pool", str(setup.pool.id)])
        assert dry.exit_code == 0, dry.output
        assert f"pool {setup.pool.id}: buy 7" in dry.output and "dry run" in dry.output
    assert len(db.scalars(select(TrackingNumber)).all()) == 3
    db.expire_all()
    assert db.get(PoolAutosize, setup.pool.id).last_plan is None
    missing = runner.invoke(main, ["pool", "autosize", "--pool", "999999"])
    assert missing.exit_code == 3


def _token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.mark.postgres
def test_settings_from_the_pool_page(app, db):
    setup = make_site(db, numbers=2)
    path = f"/dashboard/settings/pools/{setup.pool.id}"
    admin = app.test_client()
    log_in(admin, make_user(db, setup))
    page = admin.get(path).get_data(as_text=True)
    assert 'id="autosize-form"' in page and "1.15 USD a number a month" in page
    form = {
        "csrf_token": _token(admin, path),
        "enabled": "1",
        "target_overflow": "2",
        "min_numbers": "2",
        "max_numbers": "30",
        "monthly_cap": "40.50",
        "currency": "usd",
        "cooldown_hours": "48",
    }
    saved = admin.post(path + "/autosizing", data=form, follow_redirects=True)
    assert "Autosizing saved." in saved.get_data(as_text=True)
    db.expire_all()
    row = db.get(PoolAutosize, setup.pool.id)
    assert (row.enabled, row.dry_run, row.target_overflow) == (True, False, 0.02)
    assert (row.min_numbers, row.max_numbers, row.monthly_cap_minor, row.currency) == (
        2,
        30,
        4050,
        "USD",
    )
    assert row.cooldown_seconds == 48 * 3600
    bad = admin.post(
        path + "/autosizing",
        data=form | {"min_numbers": "31"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "above the maximum" in bad
    bad = admin.post(
        path + "/autosizing", data=form | {"monthly_cap": "lots"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "needs numbers" in bad


@pytest.mark.postgres
def test_a_client_manager_changes_only_the_cool_down_from_the_pool_page(app, db):
    # (Its own test: the db fixture's app context would share flask-wtf's token in g.)
    setup = make_site(db, numbers=2)
    path = f"/dashboard/settings/pools/{setup.pool.id}"
    pool_autosize.update(db, cli_principal(), setup.pool, {"enabled": True, "max_numbers": 30})
    manager = app.test_client()
    log_in(manager, make_user(db, setup, "client_manager", setup.client))
    page = manager.get(path).get_data(as_text=True)
    assert "Only an agency admin can change what spends money" in page
    done = manager.post(
        path + "/autosizing",
        data={"csrf_token": _token(manager, path), "cooldown_hours": "1", "max_numbers": "999"},
        follow_redirects=True,
    )
    assert "Autosizing saved." in done.get_data(as_text=True), done.get_data(as_text=True)[-3000:]
    db.expire_all()
    row = db.get(PoolAutosize, setup.pool.id)
    assert (row.cooldown_seconds, row.max_numbers, row.enabled) == (3600, 30, True)
    assert row.currency == "USD" and row.monthly_cap_minor is None
