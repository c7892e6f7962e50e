"""Visitor sessions in Redis: the stored form round-trips, page lines are front-coded
the same way by Python and by pageview.lua, and old stored sessions still read."""

from __future__ import annotations

import pytest

from ringtrail.tracking.visits import MAX_PAGES, Visit, VisitKeys, VisitStore, decode, encode

T0 = 1_800_000_000


def visit(pages):
    return Visit(site_id=1, started=T0, landing_url="https://shop.example/a", pages=pages)


@pytest.fixture
def store(redis_client):
    return VisitStore(redis_client)


PATHS = [
    "/services/water-heaters/page-0",
    "/services/water-heaters/page-1",
    "/services/water-heaters/page-1",  # a reload: all of it shared
    "/",
    "/blog/été-2026/économies",
    "/blog/été-2026/éco",
    "/blog/été-2026/èze",  # shares the first byte of "é" only: never split a character
    "/services",
]


def test_pages_round_trip_front_coded(store, redis_client):
    # Every other page has a title; a quick page view is in tenths of a second.
    pages = [
        [i * 10 + 0.4 * (i == 5), p, f"Page {i}" if i % 2 else ""] for i, p in enumerate(PATHS)
    ]
    raw = encode(visit(pages))
    lines = raw.split("\n")[1:]
    # references, not full paths; the title after a tab
    assert lines[1] == "10:29 1\tPage 1" and lines[2] == "20:30 "
    assert lines[5].startswith("50.4:")
    assert decode(raw).pages == pages
    # pageview.lua writes the very same lines, one page at a time.
    store.create("s", visit(pages[:1]), 600)
    for offset, path, title in pages[1:]:
        store.add_page("s", 1, path, 600, T0 + offset, title)
    stored = redis_client.get(VisitKeys("s").visit)
    assert stored.split("\n")[1:] == lines
    assert store.get("s").pages == pages


def test_the_oldest_page_goes_and_the_next_is_written_in_full(store, redis_client):
    store.create("s", visit([[0, "/services/a"]]), 600)
    for i in range(1, MAX_PAGES + 5):
        store.add_page("s", 1, f"/services/page-{i}", 600, T0 + i, "Kept" if i == 5 else "")
    got = store.get("s").pages
    assert len(got) == MAX_PAGES
    assert got[0] == [5, "/services/page-5", "Kept"] and got[-1] == [54, "/services/page-54", ""]
    first_line = redis_client.get(VisitKeys("s").visit).split("\n")[1]
    assert first_line == "5 /services/page-5\tKept"  # no reference to a page that is gone


def test_a_session_stored_before_front_coding_still_reads_and_grows(store, redis_client):
    old = encode(visit([])) + "\n0 /services/a\n30 /services/b"
    redis_client.set(VisitKeys("s").visit, old, ex=600)
    assert store.add_page("s", 1, "/services/c", 600, T0 + 60).pages == [
        [0, "/services/a", ""],
        [30, "/services/b", ""],
        [60, "/services/c", ""],
    ]
    assert redis_client.get(VisitKeys("s").visit).endswith("\n30 /services/b\n60:10 c")
