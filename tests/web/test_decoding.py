"""Text that is not text is a 4xx with a reason on every door, never a 500: lone
surrogates (raw, or escaped in JSON), NUL bytes, overlong and invalid UTF-8, in bodies,
query strings, paths and form fields. The carrier's signed webhooks still connect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from urllib.parse import quote_from_bytes

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from ringtrail.storage.models import Call, Client, Site, User
from ringtrail.web.decoding import flaw, form_fields, loads, readable
from tests.helpers import (
    BUSINESS,
    HUMAN_UA,
    ORIGIN,
    PUBLIC_URL,
    bearer,
    call_params,
    log_in,
    make_site,
    make_user,
    new_key,
    run_jobs,
)

SURROGATE_JSON = '"\\ud800"'  # a lone surrogate, as JSON spells it
SURROGATE_UTF8 = b"\xed\xa0\x80"  # the same, UTF-8 encoded: not valid UTF-8
OVERLONG = b"\xc0\xaf"  # "/" in two bytes: not valid UTF-8
INVALID = b"\xff\xfe"
NUL_JSON = '"\\u0000"'


def json_with(field: str, literal: str, **others) -> bytes:
    """A JSON object whose ``field`` is the JSON ``literal`` as written."""
    body = json.dumps(others)[:-1] + (", " if others else "") + f'"{field}": {literal}' + "}"
    return body.encode()


def escaped(raw: bytes) -> str:
    return quote_from_bytes(raw, safe="")


# -- the module on its own --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (json_with("url", SURROGATE_JSON), "url is not valid Unicode (a lone surrogate)"),
        (json_with("url", '"\\udfff x"'), "url is not valid Unicode (a lone surrogate)"),
        (json_with("url", NUL_JSON), "url contains a NUL byte"),
        (b'{"a": {"b": ["ok", "\\ud800"]}}', "a.b[1] is not valid Unicode (a lone surrogate)"),
        (b'{"\\ud800": 1}', "a field name in body is not valid Unicode (a lone surrogate)"),
        (b'{"url": "' + SURROGATE_UTF8 + b'"}', "body is not valid UTF-8"),
        (b'{"url": "' + OVERLONG + b'"}', "body is not valid UTF-8"),
        (b'{"url": "' + INVALID + b'"}', "body is not valid UTF-8"),
        (b'{"url": "a\x00"}', "body is not valid JSON"),
    ],
)
def test_loads_refuses_what_is_not_text_and_says_where(raw, reason):
    from ringtrail.errors import Invalid

    with pytest.raises(Invalid) as caught:
        loads(raw)
    assert caught.value.reason == reason


def test_loads_keeps_real_text_and_paired_surrogates():
    assert loads(b'{"t": "\\ud83d\\ude00 caf\xc3\xa9"}') == {"t": "\U0001f600 café"}
    assert flaw("\U0001f600") is None and flaw("a\x00") and flaw("\udc80")


def test_a_carriers_form_keeps_its_bytes_for_the_signature_and_reads_as_text():
    fields = form_fields(b"From=%2B1%ED%A0%80&Name=caf%C3%A9+x&Bad=%FF")
    assert [f.encode("utf-8", "surrogateescape") for _, f in fields] == [
        b"+1" + SURROGATE_UTF8,
        "café x".encode(),
        b"\xff",
    ]
    assert [readable(v) for _, v in fields] == ["+1\ufffd\ufffd\ufffd", "café x", "\ufffd"]


def test_bytes_sent_unescaped_are_kept_for_the_signature_too():
    """A form is ASCII by rule; a carrier that sends raw bytes anyway, valid UTF-8 or not,
    beside escapes in the same value, still gets its bytes back exactly."""
    fields = form_fields("Name=café&Odd=\xff%41\xc3%A9&K%C3%A9y=v".encode("latin-1"))
    sent = [
        (n.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
        for n, v in fields
    ]
    assert sent == [(b"Name", b"caf\xe9"), (b"Odd", b"\xffA\xc3\xa9"), (b"K\xc3\xa9y", b"v")]
    assert [readable(v) for _, v in fields] == ["caf\ufffd", "\ufffdAé", "v"]


# -- the public API, the snippet and AMP -------------------------------------------------


@pytest.fixture
def site(db):
    return make_site(db, numbers=2)


PUBLIC_BODIES = [
    ("url", SURROGATE_JSON, "url is not valid Unicode (a lone surrogate)"),
    ("referrer", SURROGATE_JSON, "referrer is not valid Unicode (a lone surrogate)"),
    ("title", '"Plumbing \\udbff"', "title is not valid Unicode (a lone surrogate)"),
    ("site", SURROGATE_JSON, "site is not valid Unicode (a lone surrogate)"),
    ("referrer", NUL_JSON, "referrer contains a NUL byte"),
    ("title", '"a\\u0000b"', "title contains a NUL byte"),
]


@pytest.mark.parametrize("path", ["/v1/sessions", "/v1/sessions/SESSION/pageviews"])
@pytest.mark.parametrize(("field", "literal", "reason"), PUBLIC_BODIES)
def test_public_api_bodies(client, site, redis_client, path, field, literal, reason):
    session = "x" * 22
    others = {"site": site.site_key, "url": "https://shop.example/", "referrer": "", "title": "T"}
    others.pop(field)
    res = client.post(
        path.replace("SESSION", session),
        data=json_with(field, literal, **others),
        content_type="text/plain",
        headers={"Origin": ORIGIN, "User-Agent": HUMAN_UA},
    )
    assert res.status_code == 400, res.get_data(as_text=True)
    assert res.get_json() == {"error": reason}
    assert "Origin" in res.headers["Vary"]
    assert redis_client.dbsize() == 0  # nothing leased, nothing stored


@pytest.mark.parametrize("raw", [SURROGATE_UTF8, OVERLONG, INVALID])
def test_public_api_bodies_that_are_not_utf8(client, site, raw):
    body = b'{"site": "' + site.site_key.encode() + b'", "url": "https://shop.example/' + raw
    res = client.post("/v1/sessions", data=body + b'"}', content_type="text/plain")
    assert res.status_code == 400 and res.get_json() == {"error": "body is not valid UTF-8"}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (f"url={escaped(b'https://shop.example/' + SURROGATE_UTF8)}", "query parameter 'url'"),
        (f"ref={escaped(OVERLONG)}", "query parameter 'ref' is not valid UTF-8"),
        (f"number={escaped(INVALID)}", "query parameter 'number' is not valid UTF-8"),
        ("ref=https%3A%2F%2Fa.example%2F%00", "query parameter 'ref' contains a NUL byte"),
        (f"{escaped(INVALID)}=1", "a query parameter name is not valid UTF-8"),
    ],
)
def test_amp_query_strings(client, site, redis_client, query, reason):
    res = client.get(f"/v1/amp/{site.site_key}?{query}", headers={"Origin": ORIGIN})
    assert res.status_code == 400, res.get_data(as_text=True)
    assert reason in res.get_json()["error"]
    assert redis_client.dbsize() == 0


def get_raw_path(client, path: bytes, **kw):
    """GET a path whose bytes are not UTF-8, as gunicorn hands it over (PATH_INFO holds
    the URL's bytes, unquoted, as latin-1); Werkzeug's own server and test client turn
    such bytes into U+FFFD before the app sees them."""
    return client.get("/", environ_overrides={"PATH_INFO": path.decode("latin-1")}, **kw)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (b"/s/" + SURROGATE_UTF8 + b".js", "the URL path is not valid UTF-8"),
        (b"/s/" + OVERLONG + b".js", "the URL path is not valid UTF-8"),
        (b"/s/\x00.js", "the URL path contains a NUL byte"),
        (b"/v1/amp/" + INVALID, "the URL path is not valid UTF-8"),
        (b"/v1/sessions/" + SURROGATE_UTF8 + b"/pageviews", "the URL path is not valid UTF-8"),
    ],
)
def test_snippet_and_public_paths(client, site, path, reason):
    res = get_raw_path(client, path)
    assert res.status_code == 400
    assert str(escape(reason)) in res.get_data(as_text=True)


def test_snippet_query_strings(client, site):
    res = client.get(f"/s/{site.site_key}.js?v={escaped(INVALID)}")
    assert res.status_code == 400
    assert str(escape("query parameter 'v' is not valid UTF-8")) in res.get_data(as_text=True)


# -- the admin API -----------------------------------------------------------------------


@pytest.fixture
def api(app, client, db, site):
    key = new_key(app, site.agency.id)

    from ringtrail.storage.models import TrackingNumber

    user = make_user(db, site)
    number = db.scalar(select(TrackingNumber.id).where(TrackingNumber.number == site.numbers[0]))
    ids = {"client": site.client.id, "site": site.site.id, "pool": site.pool.id}
    ids |= {"number": number, "user": user.id}

    def call(method, path, **kw):
        path = path.format(**ids)
        return client.open("/api/v1" + path, method=method, headers=bearer(key), **kw)

    return call


ADMIN_BODIES = [
    ("POST", "/clients", "name", {"business_number": BUSINESS}),
    ("PATCH", "/clients/{client}", "recording_notice", {}),
    ("POST", "/sites", "name", {"client_id": "CLIENT"}),
    ("PATCH", "/sites/{site}", "name", {}),
    ("POST", "/pools", "name", {"site_id": "SITE", "business_number": BUSINESS}),
    ("PATCH", "/pools/{pool}", "name", {}),
    ("POST", "/numbers", "source", {"pool_id": "POOL", "number": "+16285550999"}),
    ("POST", "/calls", "from", {"provider": "x", "call_id": "c1", "to": "TRACKING"}),
    (
        "POST",
        "/users",
        "name",
        {"email": "a@b.example", "role": "agency_admin", "password": "p" * 12},
    ),
    ("PATCH", "/numbers/{number}", "source", {}),
    ("PATCH", "/users/{user}", "name", {}),
    ("POST", "/keys", "name", {}),
    ("POST", "/erasures", "caller", {}),
    ("POST", "/erasures", "session", {}),
]


@pytest.mark.parametrize("literal", [SURROGATE_JSON, NUL_JSON], ids=["surrogate", "nul"])
@pytest.mark.parametrize(("method", "path", "field", "others"), ADMIN_BODIES)
def test_admin_api_json_bodies(api, site, db, method, path, field, others, literal):
    names = {"CLIENT": site.client.id, "SITE": site.site.id, "POOL": site.pool.id}
    names["TRACKING"] = site.numbers[0]
    others = {k: names.get(v, v) if isinstance(v, str) else v for k, v in others.items()}
    counts = _counts(db)
    res = api(
        method, path, data=json_with(field, literal, **others), content_type="application/json"
    )
    assert res.status_code == 400, res.get_json()
    kind = (
        "is not valid Unicode (a lone surrogate)"
        if literal == SURROGATE_JSON
        else "contains a NUL byte"
    )
    assert res.get_json() == {"error": f"{field} {kind}"}
    assert _counts(db) == counts


def _counts(db) -> tuple[int, ...]:
    db.expire_all()
    return tuple(db.scalar(select(func.count()).select_from(m)) for m in (Client, Site, Call, User))


@pytest.mark.parametrize(
    "path",
    [
        "/clients",
        "/sites",
        "/pools",
        "/numbers",
        "/calls",
        "/users",
        "/keys",
        "/audit",
        "/erasures",
        "/me",
        "/clients/{client}/retention",
        "/calls/1/recording",
    ],
)
@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (f"page={escaped(SURROGATE_UTF8)}", "query parameter 'page' is not valid UTF-8"),
        ("format=mp3%00", "query parameter 'format' contains a NUL byte"),
        (f"x={escaped(OVERLONG)}", "query parameter 'x' is not valid UTF-8"),
    ],
)
def test_every_admin_api_route_refuses_a_bad_query_string(api, path, query, reason):
    res = api("GET", f"{path}?{query}")
    assert res.status_code == 400
    assert res.get_json() == {"error": reason}


def test_admin_api_paths(app, site, client):
    key = new_key(app, site.agency.id)
    res = get_raw_path(client, b"/api/v1/clients/" + SURROGATE_UTF8, headers=bearer(key))
    assert res.status_code == 400
    assert res.get_json() == {"error": "the URL path is not valid UTF-8"}


def test_admin_api_nested_values_and_field_names(api):
    res = api(
        "POST",
        "/sites",
        data=b'{"client_id": 1, "name": "S", "allowed_origins": ["\\ud800"]}',
        content_type="application/json",
    )
    assert res.status_code == 400
    assert res.get_json() == {"error": "allowed_origins[0] is not valid Unicode (a lone surrogate)"}
    res = api("POST", "/keys", data=b'{"\\udc00": "k"}', content_type="application/json")
    assert res.get_json() == {
        "error": "a field name in body is not valid Unicode (a lone surrogate)"
    }


@pytest.mark.parametrize("raw", [SURROGATE_UTF8, OVERLONG, INVALID])
def test_admin_api_bodies_that_are_not_utf8(api, raw):
    res = api(
        "POST",
        "/clients",
        data=b'{"name": "' + raw + b'", "business_number": "+14155550100"}',
        content_type="application/json",
    )
    assert res.status_code == 400 and res.get_json() == {"error": "body is not valid UTF-8"}


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (f"/calls?source={escaped(SURROGATE_UTF8)}", "query parameter 'source' is not valid UTF-8"),
        ("/calls?campaign=spring%00", "query parameter 'campaign' contains a NUL byte"),
        (f"/calls?since={escaped(OVERLONG)}", "query parameter 'since' is not valid UTF-8"),
        (f"/clients?page={escaped(INVALID)}", "query parameter 'page' is not valid UTF-8"),
        ("/numbers?pool_id=1%00", "query parameter 'pool_id' contains a NUL byte"),
        (f"/pools/{{pool}}/numbers/import?region={escaped(INVALID)}", "query parameter 'region'"),
    ],
)
def test_admin_api_query_strings_and_paths(api, path, reason):
    method = "POST" if "import" in path else "GET"
    res = api(method, path, data="+16285550777", content_type="text/csv")
    assert res.status_code == 400, res.get_json()
    assert reason in res.get_json()["error"]


@pytest.mark.parametrize(
    ("csv", "reason"),
    [
        (b"number\n+1628555" + SURROGATE_UTF8, "the CSV is not valid UTF-8"),
        (b"number\n+16285550777" + OVERLONG, "the CSV is not valid UTF-8"),
        (b"number,role,source\n+16285550777,source,goo\x00gle", "the CSV contains a NUL byte"),
        (b"\xef\xbb\xbfnumber\n" + INVALID, "the CSV is not valid UTF-8"),
    ],
)
def test_admin_api_csv_import(api, site, db, csv, reason):
    res = api("POST", "/pools/{pool}/numbers/import", data=csv, content_type="text/csv")
    assert res.status_code == 400 and res.get_json() == {"error": reason}
    db.expire_all()
    assert len(db.get(type(site.pool), site.pool.id).numbers) == 2


# -- the dashboard's forms ---------------------------------------------------------------


@pytest.fixture
def person(client, db, site):
    user = make_user(db, site)
    log_in(client, user)
    return user


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (escaped(b"Dental " + SURROGATE_UTF8), "form field 'name' is not valid UTF-8"),
        (escaped(b"Dental" + OVERLONG), "form field 'name' is not valid UTF-8"),
        ("Dental%00", "form field 'name' contains a NUL byte"),
    ],
)
def test_dashboard_settings_form(client, db, site, person, value, reason):
    token = csrf_token(client, "/dashboard/settings")
    body = f"csrf_token={token}&name={value}&business_number=%2B14155550111"
    res = client.post(
        "/dashboard/settings/clients", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert res.status_code == 400
    assert str(escape(reason)) in res.get_data(as_text=True)
    assert _counts(db)[0] == 1  # no client was added


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/dashboard/settings/sites", "name"),
        ("/dashboard/settings/pools/{pool}/import", "csv"),
        ("/dashboard/settings/pools/{pool}", "name"),
        ("/dashboard/privacy/erasures", "value"),
        ("/dashboard/access/users", "email"),
        ("/dashboard/access/keys", "name"),
    ],
)
def test_every_dashboard_form_refuses_bad_text(client, db, site, person, path, field):
    token = csrf_token(client, "/dashboard/settings")
    body = f"csrf_token={token}&{field}=ok{escaped(SURROGATE_UTF8)}"
    res = client.post(
        path.format(pool=site.pool.id), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert res.status_code == 400
    assert str(escape(f"form field '{field}' is not valid UTF-8")) in res.get_data(as_text=True)
    assert _counts(db) == (1, 1, 0, 1)  # make_site's client and site, and the person


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f"email={escaped(SURROGATE_UTF8)}&password=x", "form field 'email' is not valid UTF-8"),
        ("email=a%40b.example%00&password=x", "form field 'email' contains a NUL byte"),
        (f"email=a%40b.example&password={escaped(INVALID)}", "form field 'password'"),
    ],
)
def test_dashboard_login_form(client, db, body, reason):
    res = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert res.status_code == 400 and str(escape(reason)) in res.get_data(as_text=True)


def test_dashboard_query_strings(client, person):
    res = client.get("/dashboard/calls?source=google%00")
    assert res.status_code == 400
    assert "query parameter &#39;source&#39; contains a NUL byte" in res.get_data(as_text=True)


# -- the carrier's webhooks --------------------------------------------------------------


def signature(token: str, path: str, fields: list[tuple[bytes, bytes]]) -> str:
    """Twilio's signature of a form: the URL, then each name and value sorted by name,
    as bytes (what was sent), not as text."""
    message = PUBLIC_URL.encode() + path.encode()
    message += b"".join(name + value for name, value in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), message, hashlib.sha1).digest()).decode()


def signed_post(client, path: str, fields: list[tuple[bytes, bytes]], token: str):
    """POST a form as Twilio would, signed over its bytes as sent."""
    return client.post(
        path,
        data="&".join(f"{quote_from_bytes(n)}={quote_from_bytes(v)}" for n, v in fields),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature(token, path, fields)},
    )


def failed_jobs(app) -> int:
    """Jobs that raised: a call event that could not be applied."""
    from ringtrail.storage.clients import get_queue

    with app.app_context():
        return get_queue().failed_job_registry.count


def form_of(params: dict[str, str], **bad: bytes) -> list[tuple[bytes, bytes]]:
    fields = {k.encode(): v.encode() for k, v in params.items()}
    fields.update({k.encode(): v for k, v in bad.items()})
    return list(fields.items())


def dialled(response) -> str:
    assert response.status_code == 200 and response.mimetype == "text/xml", response.data
    text = response.get_data(as_text=True)
    return re.search(r"<Dial[^>]*>(?:<Number[^>]*>)?([^<]+)<", text).group(1)


BAD_CALLERS = {
    "surrogate": b"+1212555" + SURROGATE_UTF8,
    "overlong": b"+1212555" + OVERLONG,
    "invalid": INVALID,
    "nul": b"+12125550143\x00",
}


@pytest.mark.parametrize("bad", BAD_CALLERS, ids=list(BAD_CALLERS))
def test_a_signed_call_with_a_bad_caller_id_connects_and_is_recorded(app, client, db, site, bad):
    params = call_params(site, site.numbers[0])
    fields = form_of(params, From=BAD_CALLERS[bad], CallerName=b"J" + SURROGATE_UTF8)
    res = signed_post(client, "/telephony/twilio/voice", fields, site.token)
    assert dialled(res) == BUSINESS  # forwarded to the business: the call connects
    assert run_jobs(app) == 1 and failed_jobs(app) == 0
    db.expire_all()
    call = db.scalar(select(Call).where(Call.call_sid == params["CallSid"]))
    assert call is not None and call.tracking_number == site.numbers[0]
    assert "\x00" not in (call.caller_number or "")


def test_the_fallback_and_a_bad_to_still_forward(app, client, site):
    params = call_params(site, site.numbers[0])
    res = signed_post(
        client, "/telephony/twilio/voice", form_of(params, To=SURROGATE_UTF8), site.token
    )
    assert dialled(res) == app.config["DEFAULT_FORWARD_NUMBER"]  # no such number: the default
    res = signed_post(
        client, "/telephony/twilio/fallback", form_of(params, From=INVALID), site.token
    )
    assert dialled(res) == BUSINESS


def test_a_tampered_byte_is_still_refused(client, site):
    params = call_params(site, site.numbers[0])
    fields = form_of(params, From=b"+1212555" + SURROGATE_UTF8)
    assert signed_post(client, "/telephony/twilio/status", fields, site.token).status_code == 204
    tampered = [(n, v.replace(SURROGATE_UTF8, OVERLONG + b"\x80")) for n, v in fields]
    res = client.post(
        "/telephony/twilio/status",
        data="&".join(f"{quote_from_bytes(n)}={quote_from_bytes(v)}" for n, v in tampered),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature(site.token, "/telephony/twilio/status", fields)},
    )
    assert res.status_code == 403


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ("/telephony/twilio/status", {"CallStatus": SURROGATE_UTF8, "CallDuration": OVERLONG}),
        ("/telephony/twilio/recording", {"RecordingUrl": b"https://a.example/" + INVALID}),
        ("/telephony/twilio/transcription", {"TranscriptionText": b"hello \x00" + SURROGATE_UTF8}),
        ("/telephony/twilio/dial", {"DialCallStatus": OVERLONG}),
        ("/telephony/twilio/voicemail", {"RecordingUrl": INVALID}),
        ("/telephony/twilio/status", {"CallSid": b"CA" + SURROGATE_UTF8}),
    ],
)
def test_signed_callbacks_with_bad_values_are_a_4xx_or_accepted(app, client, site, path, bad):
    params = call_params(site, site.numbers[0])
    signed_post(client, "/telephony/twilio/voice", form_of(params), site.token)
    res = signed_post(client, path, form_of(params, **bad), site.token)
    assert res.status_code in (200, 204, 400), res.data
    if "CallSid" in bad:
        assert res.status_code == 400 and b"CallSid is malformed" in res.data
    assert run_jobs(app) >= 1
    assert failed_jobs(app) == 0  # every queued event was applied
