"""``ringtrail webhooks``: endpoints and their logs from the command line."""

from __future__ import annotations

from sqlalchemy import select

from ringtrail.storage.models import AuditEntry
from tests.cli.test_manage import out, run
from tests.helpers import make_site
from tests.outbound.conftest import start_call


def test_endpoints_their_log_and_a_resend_from_the_command_line(app, db, receivers):
    setup = make_site(db, numbers=1)
    receiver = receivers(answers=[500])
    client = str(setup.client.id)
    (made,) = out(app, "webhooks", "create", receiver.url, "--client", client)
    receiver.secrets.append(made["secret"])
    assert made["state"] == "enabled" and made["client_id"] == setup.client.id
    bad = run(app, "webhooks", "create", "ftp://x.example", "--client", client, ok=False)
    assert "https://" in bad.output
    start_call(db, setup)
    from ringtrail.outbound import delivery

    delivery.sweep()
    (row,) = out(app, "webhooks", "deliveries", str(made["id"]))
    assert (row["status"], row["response_code"], row["attempts"]) == ("pending", 500, 1)
    (again,) = out(app, "webhooks", "resend", str(row["id"]))
    assert (again["status"], again["attempts"]) == ("delivered", 2)
    assert {r["id"] for r in receiver.requests} == {row["message_id"]}
    (tested,) = out(app, "webhooks", "test", str(made["id"]))
    assert tested["status"] == "delivered" and tested["event"] == "webhook.test"
    (off,) = out(app, "webhooks", "disable", str(made["id"]))
    assert off["state"] == "disabled"
    listed = out(app, "webhooks", "list", "--client", client)
    assert [e["state"] for e in listed] == ["disabled"]
    assert "secret=whsec_" in run(app, "webhooks", "rotate", str(made["id"])).output
    run(app, "webhooks", "delete", str(made["id"]))
    assert out(app, "webhooks", "list") == []
    db.expire_all()
    actions = {e.action for e in db.scalars(select(AuditEntry).where(AuditEntry.actor == "cli"))}
    assert {"create", "resend", "test", "update", "rotate", "delete"} <= actions
