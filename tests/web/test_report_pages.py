"""Report pages through the Flask test client: roles, tenancy, inert values, CSV downloads."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ringtrail.reports.sizing import recommend
from ringtrail.storage.models import AuditEntry, DailyVisits, PoolHour
from ringtrail.web.dashboard.reports import safe_href
from tests.helpers import add_call, log_in, make_site, make_user, run_jobs

XSS_URL = "https://shop.example/<script>window.__pwned=1</script>?utm_campaign=<script>x</script>"
JS_URL = "javascript:window.__pwned=1//"


@pytest.fixture
def world(db):
    """Agency A with two clients, calls, visits and pool load; agency B with one client."""
    a = make_site(db)
    a2 = make_site(db, agency=a.agency, number_start=10)
    b = make_site(db, number_start=20)
    a.client.name, a2.client.name, b.client.name = "Acme Plumbing", "Acme Roofing", "Bravo"
    a.client.timezone = "America/Chicago"
    db.commit()
    now = datetime.now(UTC).replace(microsecond=0)
    visit = {
        "landing_url": XSS_URL,
        "referrer": JS_URL,
        "campaign": "<script>window.__pwned=1</script>",
        "term": '=HYPERLINK("http://evil.example")',
        "click_ids": {"gclid": "abc"},
        "pages": [[0, "/<img src=x onerror=alert(1)>"], [40, "/contact"]],
    }
    xss = add_call(db, a, now - timedelta(hours=2), source="<script>s</script>", visit=visit)
    plain = add_call(
        db,
        a,
        now - timedelta(days=1),
        visit={"landing_url": "https://shop.example/offer", "referrer": "https://www.google.com/"},
    )
    add_call(db, a2, now - timedelta(hours=3), caller="+13125550100")
    other = add_call(db, b, now - timedelta(hours=1), caller="+13125550199")
    db.add(DailyVisits(site_id=a.site.id, day=now.date(), source="google", medium="cpc", visits=9))
    db.add(
        PoolHour(
            pool_id=a.pool.id,
            hour=now.replace(minute=0, second=0) - timedelta(hours=1),
            new_leases=40,
            exhausted=5,
            peak_leases=5,
            held_seconds=40 * 600,
            ended_leases=40,
        )
    )
    db.commit()
    return {"a": a, "a2": a2, "b": b, "xss": xss, "plain": plain, "other": other}


def pages_of(world) -> list[str]:
    a = world["a"]
    return [
        "/dashboard",
        f"/dashboard/clients/{a.client.id}",
        f"/dashboard/clients/{a.client.id}?dimension=landing_page&touch=first",
        f"/dashboard/clients/{a.client.id}?dimension=referrer_domain",
        "/dashboard/calls",
        f"/dashboard/calls/{world['xss'].id}",
        "/dashboard/pools",
        "/dashboard/embed",
    ]


def assert_inert(html: str) -> None:
    """No stored value became markup, a script or a javascript: link."""
    assert "<script>window.__pwned" not in html
    assert "<script>s</script>" not in html
    assert "<img src=x" not in html
    assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", html, re.I)
    # The only scripts are the dashboard's own files.
    for tag in re.findall(r"<script[^>]*>", html):
        assert re.fullmatch(r'<script src="/static/[a-z]+\.js" defer>', tag), tag


@pytest.mark.parametrize("role", ["agency_admin", "client_manager", "report_only"])
def test_every_page_renders_for_every_role(client, db, world, role):
    a = world["a"]
    user = make_user(db, a, role, None if role == "agency_admin" else a.client)
    log_in(client, user)
    for path in pages_of(world):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        html = response.get_data(as_text=True)
        assert_inert(html)
        assert "Bravo" not in html  # another agency's client never shows


def test_anonymous_visitors_are_sent_to_login(client, world):
    for path in pages_of(world):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_other_tenants_objects_are_404_and_audited(client, db, world):
    a, b = world["a"], world["b"]
    log_in(client, make_user(db, a))
    for path in [
        f"/dashboard/clients/{b.client.id}",
        f"/dashboard/clients/{b.client.id}/report.csv",
        f"/dashboard/clients/{b.client.id}/daily.csv",
        f"/dashboard/calls/{world['other'].id}",
        f"/dashboard/calls?client={b.client.id}",
        f"/dashboard/calls.csv?client={b.client.id}",
        f"/dashboard/pools?client={b.client.id}",
        f"/dashboard/pools.csv?client={b.client.id}",
    ]:
        assert client.get(path).status_code == 404, path
    assert run_jobs(client.application) == 8  # audited off the request path
    denied = db.scalars(select(AuditEntry).where(AuditEntry.action == "denied")).all()
    assert len(denied) == 8 and {e.agency_id for e in denied} == {a.agency.id}
    assert {e.object_type for e in denied} == {"client", "call"}
    probed = db.scalars(select(AuditEntry).where(AuditEntry.action == "probed")).all()
    assert len(probed) == 8 and {e.agency_id for e in probed} == {b.agency.id}
    # A missing id is the same 404, and the prober's log says the same: only the owner's
    # log, which the prober cannot read, tells the two apart.
    assert client.get("/dashboard/clients/999999").status_code == 404
    assert run_jobs(client.application) == 1
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == 8 + 1 + 8


def test_a_client_user_sees_only_their_client(client, db, world):
    a, a2 = world["a"], world["a2"]
    log_in(client, make_user(db, a, "report_only", a.client))
    assert client.get(f"/dashboard/clients/{a2.client.id}").status_code == 404
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Acme Plumbing" in html and "Acme Roofing" not in html
    log_html = client.get("/dashboard/calls").get_data(as_text=True)
    assert "+1 312-555-0100" not in log_html  # Acme Roofing's caller
    body = client.get("/dashboard/calls.csv").get_data(as_text=True)
    assert "+13125550100" not in body and len(list(csv.reader(io.StringIO(body)))) == 3


def test_overview_lists_the_agencys_clients(client, db, world):
    log_in(client, make_user(db, world["a"]))
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Acme Plumbing" in html and "Acme Roofing" in html
    assert re.search(r'id="kpi-calls">3<', html)


def test_client_view_shows_the_source_report_and_charts(client, db, world):
    a = world["a"]
    log_in(client, make_user(db, a))
    html = client.get(f"/dashboard/clients/{a.client.id}?days=7").get_data(as_text=True)
    assert 'id="chart-days"' in html and 'id="chart-sources"' in html
    assert 'id="source-report"' in html
    assert "&lt;script&gt;s&lt;/script&gt;" in html  # the hostile source, as text
    assert re.search(r'id="kpi-calls">2<', html)
    # A stored javascript: referrer never becomes a link; an http(s) one does.
    detail = client.get(f"/dashboard/calls/{world['plain'].id}").get_data(as_text=True)
    assert 'href="https://shop.example/offer"' in detail
    assert 'rel="noopener noreferrer nofollow"' in detail
    xss = client.get(f"/dashboard/calls/{world['xss'].id}").get_data(as_text=True)
    assert "javascript:window.__pwned=1//" in xss  # shown, as text
    assert "/&lt;img src=x onerror=alert(1)&gt;" in xss and "/contact" in xss


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?from=yesterday", "Dates must look like"),
        ("?from=2024-05-02&to=2024-05-01", "ends before it starts"),
        ("?from=2000-01-01&to=2024-05-01", "at most"),
        ("?days=0", "days must be"),
        ("?days=-3", "days must be"),
        ("?dimension=colour", "dimension must be one of"),
        ("?touch=middle", "touch must be one of"),
    ],
)
def test_bad_report_parameters_get_a_readable_400(client, db, world, query, message):
    a = world["a"]
    log_in(client, make_user(db, a))
    response = client.get(f"/dashboard/clients/{a.client.id}{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/dashboard/pools?overflow=abc", "must be a number"),
        ("/dashboard/pools?overflow=0", "between"),
        ("/dashboard/pools?overflow=0.9", "between"),
        ("/dashboard/calls?confidence=sure", "confidence must be one of"),
        ("/dashboard/calls?page=0", "page must be"),
        ("/dashboard/calls?client=abc", None),
    ],
)
def test_bad_filters_are_4xx(client, db, world, path, message):
    log_in(client, make_user(db, world["a"]))
    response = client.get(path)
    if message is None:
        assert response.status_code == 404
    else:
        assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_pool_health_shows_the_recommendation_for_the_chosen_target(client, db, world):
    a = world["a"]
    log_in(client, make_user(db, a))
    a.pool.rest_seconds = 0  # first without a rest: the FACTS table's figures
    db.commit()
    one = client.get("/dashboard/pools").get_data(as_text=True)
    five = client.get("/dashboard/pools?overflow=0.05").get_data(as_text=True)
    # 45 visitors in the busiest hour holding 10 minutes each: 7.5 Erlangs.
    assert 'data-metric="recommended">15<' in one  # FACTS: 7.5 Erlangs → 15 numbers at 1 %
    assert 'data-metric="recommended">12<' in five
    assert 'data-metric="exhausted">5<' in one
    assert "Add 10 numbers" in one
    assert "leased now" in one  # live count from Redis
    # With the default rest (the match window, an hour) each number is kept 70 minutes.
    a.pool.rest_seconds = None
    db.commit()
    rested = client.get("/dashboard/pools").get_data(as_text=True)
    size = recommend(45, 600 + 3600)
    assert f'data-metric="recommended">{size}<' in rested
    assert f'data-metric="rest-cost">{size - 15}<' in rested


def test_embed_page_offers_the_snippet_tag(client, db, world, app):
    a = world["a"]
    log_in(client, make_user(db, a, "client_manager", a.client))
    html = client.get("/dashboard/embed").get_data(as_text=True)
    base = app.config["PUBLIC_URL"]
    tag = f"&lt;script async src=&#34;{base}/s/{a.site_key}.js&#34;&gt;&lt;/script&gt;"
    assert tag in html
    assert world["a2"].site_key not in html


def test_csv_downloads_are_attachments_and_formula_safe(client, db, world):
    a = world["a"]
    log_in(client, make_user(db, a))
    for path in [
        "/dashboard/calls.csv",
        f"/dashboard/clients/{a.client.id}/report.csv?dimension=campaign",
        f"/dashboard/clients/{a.client.id}/daily.csv",
        "/dashboard/pools.csv",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        text = response.get_data(as_text=True)
        assert text.startswith("\ufeff")
        for row in csv.reader(io.StringIO(text.removeprefix("\ufeff"))):
            for cell in row:
                # The one formula: a strictly E.164 phone number, as text (exports.py).
                if re.fullmatch(r'="\+[0-9]{2,15}"', cell):
                    continue
                assert not cell.lstrip().startswith(("=", "+", "-", "@")), (path, cell)
    calls = client.get("/dashboard/calls.csv").get_data(as_text=True).removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(calls)))
    assert len(rows) == 3
    hostile = next(r for r in rows if r["campaign"].startswith("<script>"))
    assert hostile["caller"] == '="+12125550143"'
    assert hostile["keyword"] == '\'=HYPERLINK("http://evil.example")'
    assert hostile["referrer"] == JS_URL
    assert hostile["pages viewed"] == "/<img src=x onerror=alert(1)> > /contact"


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://shop.example/a?b=1", True),
        ("http://shop.example", True),
        ("HTTPS://SHOP.EXAMPLE/", True),
        ("javascript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:msgbox(1)", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("https:alert(1)", False),
        ("http://[::1", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_urls_become_links(url, linked):
    assert (safe_href(url) is not None) is linked


def test_durations_read_as_clock_times_and_long_ones_in_days():
    from ringtrail.web.dashboard.reports import duration

    assert [duration(s) for s in (None, 125, 5400, 86400)] == ["–", "2:05", "1:30:00", "24:00:00"]
    assert [duration(s) for s in (7 * 86400, 3.5 * 86400)] == ["7 days", "3.5 days"]
