"""Management subcommands: the same changes as the API, from scripts, with --json."""

from __future__ import annotations

import json

from sqlalchemy import select

from ringtrail.cli import main
from ringtrail.storage.models import AuditEntry


def run(app, *args: str, ok: bool = True, input: str | None = None):
    result = app.test_cli_runner().invoke(main, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        import traceback

        traceback.print_exception(result.exception)
    assert (result.exit_code == 0) is ok, result.output
    return result


def out(app, *args: str, input: str | None = None):
    return json.loads(run(app, *args, "--json", input=input).output)


def test_a_tree_built_from_the_command_line(app, db, tmp_path):
    agency = out(app, "agency", "create", "--name", "Acme Agency")
    client = out(
        app,
        "client",
        "create",
        "--agency",
        str(agency["id"]),
        "--name",
        "Dental",
        "--business-number",
        "(415) 555-0100",
    )
    assert client["business_number"] == "+14155550100"
    site = out(
        app,
        "site",
        "create",
        "--client",
        str(client["id"]),
        "--name",
        "Main",
        "--origin",
        "https://dental.example",
    )
    assert len(site["public_key"]) == 20
    pool = out(
        app,
        "pool",
        "create",
        "--site",
        str(site["id"]),
        "--business-number",
        "+14155550100",
        "--lease-seconds",
        "900",
    )
    assert pool["lease_seconds"] == 900 and pool["numbers"] == 0
    csv_file = tmp_path / "numbers.csv"
    csv_file.write_text("number\n(628) 555-0101\n+16285550102\n")
    imported = out(app, "number", "import", "--pool", str(pool["id"]), str(csv_file))
    assert imported == {"imported": 2, "unchanged": 0, "numbers": ["+16285550101", "+16285550102"]}
    added = out(app, "number", "add", "--pool", str(pool["id"]), "628-555-0103")
    assert added["number"] == "+16285550103"
    changed = out(app, "pool", "set", str(pool["id"]), "--lease-seconds", "1200")
    assert changed["lease_seconds"] == 1200 and changed["numbers"] == 3
    assert [p["id"] for p in out(app, "pool", "list", "--site", str(site["id"]))] == [pool["id"]]

    key = out(app, "key", "create", "--agency", str(agency["id"]), "--name", "ci")
    assert key["key"].startswith("rt_")
    client_api = app.test_client()
    headers = {"Authorization": f"Bearer {key['key']}"}
    pools = client_api.get("/api/v1/pools", headers=headers).get_json()["items"]
    assert pools[0]["numbers"] == 3
    listed = out(app, "key", "list", "--agency", str(agency["id"]))
    assert "key" not in listed[0] and listed[0]["prefix"] == key["prefix"]
    revoked = out(app, "key", "revoke", str(key["id"]))
    assert revoked["revoked_at"]
    assert client_api.get("/api/v1/pools", headers=headers).status_code == 401

    user = out(
        app,
        "user",
        "create",
        "--agency",
        str(agency["id"]),
        "--email",
        "Boss@Acme.example",
        "--role",
        "agency_admin",
        "--password-stdin",
        input="long enough password\n",
    )
    assert user["email"] == "boss@acme.example"
    assert [u["email"] for u in out(app, "user", "list")] == ["boss@acme.example"]

    db.expire_all()
    actions = [(e.actor_type, e.action, e.object_type) for e in db.scalars(select(AuditEntry))]
    assert ("cli", "update", "pool") in actions and ("cli", "revoke", "api_key") in actions


def test_bad_input_is_a_one_line_error(app, db, tmp_path):
    agency = out(app, "agency", "create", "--name", "A")
    res = run(
        app,
        "client",
        "create",
        "--agency",
        str(agency["id"]),
        "--name",
        "C",
        "--business-number",
        "12",
        ok=False,
    )
    assert "not a valid phone number" in res.output and "Traceback" not in res.output
    res = run(
        app,
        "client",
        "create",
        "--agency",
        "999",
        "--name",
        "C",
        "--business-number",
        "+14155550100",
        ok=False,
    )
    assert "no such agency" in res.output
    res = run(app, "pool", "set", "999", "--lease-seconds", "0", ok=False)
    assert "lease_seconds" in res.output
    res = run(
        app,
        "user",
        "create",
        "--agency",
        str(agency["id"]),
        "--email",
        "x@y.example",
        "--role",
        "report_only",
        "--password-stdin",
        input="long enough password\n",
        ok=False,
    )
    assert "client_id" in res.output
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("bogus\n")
    res = run(app, "number", "import", "--pool", "999", str(csv_file), ok=False)
    assert "no such pool" in res.output


def test_the_first_admin_password_never_comes_from_the_command_line(app, db, monkeypatch):
    agency = out(app, "agency", "create", "--name", "First")
    args = ["user", "create", "--agency", str(agency["id"]), "--role", "agency_admin"]
    pw = "a long enough first password"
    # As an argument it would be in the shell's history and in `ps`: there is no such option.
    refused = run(app, *args, "--email", "a@first.example", "--password", pw, ok=False)
    assert refused.exit_code == 2 and "No such option" in refused.output
    # Prompted for, twice (hidden), when a person runs it.
    prompted = run(app, *args, "--email", "b@first.example", "--json", input=f"{pw}\n{pw}\n")
    assert pw not in prompted.output and '"email": "b@first.example"' in prompted.output
    # From standard input, once, for scripts; nothing there is a usage error.
    assert out(app, *args, "--email", "c@first.example", "--password-stdin", input=f"{pw}\n")
    empty = run(app, *args, "--email", "d@first.example", "--password-stdin", input="", ok=False)
    assert empty.exit_code == 2 and "no password on standard input" in empty.output
    # Or from RINGTRAIL_NEW_USER_PASSWORD, as set (a password of digits stays text).
    monkeypatch.setenv("RINGTRAIL_NEW_USER_PASSWORD", "314159265358979323")
    assert out(app, *args, "--email", "e@first.example")
    from ringtrail.accounts.auth import verify_password
    from ringtrail.storage.models import User

    db.expire_all()
    users = {u.email: u for u in db.scalars(select(User))}
    assert set(users) == {"b@first.example", "c@first.example", "e@first.example"}
    assert verify_password(users["b@first.example"], pw)
    assert verify_password(users["e@first.example"], "314159265358979323")
