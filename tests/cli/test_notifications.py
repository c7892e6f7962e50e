"""``ringtrail notifications``: preferences, a client's Slack URL, the outbox and a test
e-mail through a real SMTP server."""

from __future__ import annotations

from sqlalchemy import select

from ringtrail.crypto import unseal
from ringtrail.storage.models import AuditEntry, ClientNotifications
from tests.cli.test_manage import out, run
from tests.helpers import make_site, make_user
from tests.outbound.conftest import slack, smtp  # noqa: F401 (fixtures)


def test_preferences_and_slack_from_the_command_line(app, db, slack):  # noqa: F811
    setup = make_site(db, numbers=1)
    user = make_user(db, setup, "report_only", client=setup.client)
    client = str(setup.client.id)
    got = out(
        app, "notifications", "set", "--user", user.email, "--client", client,
        "--missed-calls", "--daily-summary", "--no-by-email", "--by-slack",
    )  # fmt: skip
    assert got["missed_calls"] and got["daily_summary"] and got["by_slack"]
    assert not got["by_email"] and not got["new_calls"]
    [shown] = out(app, "notifications", "show", "--user", str(user.id))
    assert shown == got

    settings = out(app, "notifications", "client", client, "--slack-url", slack.url)
    assert settings["slack"] is True and slack.url not in str(settings)
    db.expire_all()
    assert unseal(db.get(ClientNotifications, setup.client.id).slack_webhook_url) == slack.url
    bad = run(app, "notifications", "client", client, "--summary-hour", "25", ok=False)
    assert "summary_hour" in bad.output
    bad = run(
        app, "notifications", "set", "--user", "nobody@x.org", "--client", client, "--new-calls",
        ok=False,
    )  # fmt: skip
    assert "no user" in bad.output

    run(app, "notifications", "clear", "--user", user.email, "--client", client)
    assert out(app, "notifications", "show", "--user", user.email)[0]["missed_calls"] is False
    kinds = {e.object_type for e in db.scalars(select(AuditEntry)).all()}
    assert {"notifications", "client_notifications"} <= kinds


def test_the_outbox_and_a_test_email(app, db, smtp):  # noqa: F811
    refused = run(app, "notifications", "test", "--to", "me@example.com", ok=False)
    assert "e-mail is off" in refused.output
    app.config["SMTP_URL"] = smtp.url
    result = run(app, "notifications", "test", "--to", "me@example.com")
    assert "sent to me@example.com" in result.output
    assert [m.subject for m in smtp.inbox] == ["Ringtrail test e-mail"]
    counts = out(app, "notifications", "outbox")
    assert counts["sent"] == 1 and counts["queued"] == 0 and counts["email_enabled"] is True
