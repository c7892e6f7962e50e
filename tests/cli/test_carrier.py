"""``ringtrail carrier``: connect, show, rotate, finish the rotation, disconnect, and
search, buy, import and release numbers; secrets from stdin only, never echoed back."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from ringtrail.cli import main
from ringtrail.storage.models import AuditEntry, TrackingNumber
from tests.helpers import PUBLIC_URL, make_site
from tests.twilio_standin import Failure


def run(app, *args: str, ok: bool = True, input: str | None = None):
    result = app.test_cli_runner().invoke(main, list(args), input=input)
    assert (result.exit_code == 0) is ok, result.output
    return result


def out(app, *args: str, input: str | None = None):
    return json.loads(run(app, *args, "--json", input=input).output)


def test_account_from_the_command_line(app, db, stand_in, caplog):
    caplog.set_level(logging.DEBUG)
    setup = make_site(db, numbers=1)
    agency = str(setup.agency.id)
    account, token = stand_in.add_account()
    key, secret = stand_in.add_api_key(account)
    shown = out(
        app,
        "carrier",
        "connect",
        "--agency",
        agency,
        "--account-sid",
        account,
        "--api-key-sid",
        key,
        input=f"{token}\n{secret}\n",
    )
    assert shown["account_sid"] == account and shown["auth_token"] == "••••" + token[-4:]
    assert shown["api_key_secret"] == "••••" + secret[-4:]
    plain = run(app, "carrier", "show", "--agency", agency).output
    assert f"account_sid={account}" in plain and token not in plain and secret not in plain

    new_token = "e" * 32
    stand_in.accounts[account] = new_token
    rotated = out(app, "carrier", "rotate", "--agency", agency, input=new_token + "\n")
    assert rotated["rotating"] is True
    assert out(app, "carrier", "finish-rotation", "--agency", agency)["rotating"] is False
    refused = run(app, "carrier", "finish-rotation", "--agency", agency, ok=False)
    assert "no token rotation is under way" in refused.output

    stand_in.offer("+14155550101", "+14155550102")
    found = out(app, "carrier", "search", "--agency", agency, "--area-code", "415", "--limit", "1")
    assert [n["phone_number"] for n in found] == ["+14155550101"]
    bought = out(app, "carrier", "buy", "--pool", str(setup.pool.id), "+14155550101")
    assert bought[0]["number"] == "+14155550101"
    assert stand_in.owned(account)["+14155550101"]["voice_url"].endswith("/telephony/twilio/voice")
    assert run(app, "carrier", "release", "--number", str(bought[0]["id"])).output.startswith(
        "released +14155550101"
    )

    stand_in.own(account, "+12125550111")
    dry = run(app, "carrier", "import", "--pool", str(setup.pool.id)).output
    assert "number=+12125550111" in dry and "action=add" in dry and "dry run" in dry
    assert stand_in.owned(account)["+12125550111"]["voice_url"] == ""
    out(app, "carrier", "import", "--pool", str(setup.pool.id), "--apply")
    assert stand_in.owned(account)["+12125550111"]["voice_url"] == (
        PUBLIC_URL + "/telephony/twilio/voice"
    )
    db.expire_all()
    assert db.scalar(select(TrackingNumber).where(TrackingNumber.number == "+12125550111"))

    assert out(app, "carrier", "disconnect", "--agency", agency)["connected"] is False
    dumped = " ".join(repr(e.details) for e in db.scalars(select(AuditEntry)))
    for secret_ in (token, new_token, secret):
        assert secret_ not in dumped and secret_ not in caplog.text


def test_carrier_refusals_exit_with_a_reason(app, db, stand_in):
    setup = make_site(db, numbers=1)
    account, _ = stand_in.add_account()
    wrong = run(
        app,
        "carrier",
        "connect",
        "--agency",
        str(setup.agency.id),
        "--account-sid",
        account,
        input="0" * 32 + "\n",
        ok=False,
    )
    assert "Twilio refused the credentials (401)" in wrong.output
    stand_in.accounts[setup.account_sid] = setup.token
    stand_in.failures.append(Failure(429, retry_after=3))
    limited = run(app, "carrier", "search", "--agency", str(setup.agency.id), ok=False)
    assert "Twilio is rate limiting; retry after 3 s" in limited.output
