"""Security headers come from one place, and every kind of answer carries its own."""

from __future__ import annotations

from tests.helpers import bearer, log_in, make_site, make_user, new_key


def test_pages_for_people_are_never_cached_framed_or_sniffed(app, client, db):
    setup = make_site(db)
    log_in(client, make_user(db, setup))
    for path in ("/login", "/dashboard", "/dashboard/settings", "/dashboard/privacy"):
        page = client.get(path)
        assert page.status_code in (200, 302), path
        assert page.headers["X-Content-Type-Options"] == "nosniff", path
        assert page.headers["Cache-Control"] == "no-store", path
        if page.mimetype == "text/html":
            assert page.headers["X-Frame-Options"] == "DENY", path
            assert page.headers["Referrer-Policy"] == "same-origin", path


def test_the_admin_api_is_never_cached(app, client, db):
    setup = make_site(db)
    res = client.get("/api/v1/me", headers=bearer(new_key(app, setup.agency.id)))
    assert res.status_code == 200
    assert res.headers["Cache-Control"] == "no-store"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"


def test_the_snippet_keeps_its_own_caching_and_is_not_sniffed(client, db):
    setup = make_site(db)
    res = client.get(f"/s/{setup.site_key}.js")
    assert res.status_code == 200
    assert res.headers["Cache-Control"].startswith("public, max-age=")
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in res.headers


def test_static_files_are_not_sniffed(client):
    res = client.get("/static/app.css")
    assert res.status_code == 200 and res.mimetype == "text/css"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
