"""No IP address is stored: not a visitor's, not a caller's, not a dashboard user's."""

from __future__ import annotations

import json

from sqlalchemy import String, Text, select

from ringtrail.storage.models import Base
from tests.helpers import HUMAN_UA, ORIGIN, make_site

IP = "203.0.113.77"


def everything_in_sql(db) -> str:
    out = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        columns += [c for c in table.columns if c.type.__class__.__name__ == "JSON"]
        if columns:
            for row in db.execute(select(*columns)):
                out.append(json.dumps([str(v) for v in row]))
    return "\n".join(out)


def everything_in_redis(client) -> str:
    out = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        value = {
            "string": lambda k: client.get(k),
            "hash": lambda k: client.hgetall(k),
            "list": lambda k: client.lrange(k, 0, -1),
            "set": lambda k: client.smembers(k),
            "zset": lambda k: client.zrange(k, 0, -1),
        }.get(kind, lambda k: "")(key)
        out.append(f"{key} {value!r}")
    return "\n".join(out)


def test_no_ip_address_is_stored(app, client, db, redis_client):
    setup = make_site(db, numbers=2)
    env = {"REMOTE_ADDR": IP}
    headers = {"Origin": ORIGIN, "User-Agent": HUMAN_UA, "X-Forwarded-For": IP}
    res = client.post(
        "/v1/sessions",
        content_type="text/plain",
        headers=headers,
        environ_base=env,
        data=json.dumps({"site": setup.site_key, "url": "https://shop.example/"}),
    )
    session = res.get_json()["session"]
    client.post(
        f"/v1/sessions/{session}/pageviews",
        content_type="text/plain",
        headers=headers,
        environ_base=env,
        data=json.dumps({"site": setup.site_key, "url": "https://shop.example/b"}),
    )
    # An audited action by a dashboard user, from that address.
    client.get("/dashboard/pools/999999", environ_base=env)
    from ringtrail.accounts.audit import record

    with app.test_request_context("/", environ_base=env):
        record(db, "update", "pool", setup.pool.id, agency_id=setup.agency.id)
        db.commit()
    assert IP not in everything_in_sql(db)
    assert IP not in everything_in_redis(redis_client)
