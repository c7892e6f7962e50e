"""Source classification from the landing URL and referrer."""

from __future__ import annotations

import pytest

from ringtrail.tracking.sources import classify

SITE = ("shop.example",)


@pytest.mark.parametrize(
    ("url", "referrer", "expected"),
    [
        ("https://shop.example/", "", ("(direct)", "(none)", "", "")),
        ("https://shop.example/", "https://www.google.com/", ("google", "organic", "", "")),
        ("https://shop.example/", "https://www.google.co.uk/search", ("google", "organic", "", "")),
        (
            "https://shop.example/",
            "https://www.bing.com/search?q=burst+pipe",
            ("bing", "organic", "", "burst pipe"),
        ),
        ("https://shop.example/", "https://duckduckgo.com/", ("duckduckgo", "organic", "", "")),
        ("https://shop.example/?gclid=1", "https://www.google.com/", ("google", "cpc", "", "")),
        ("https://shop.example/?gbraid=1", "", ("google", "cpc", "", "")),
        ("https://shop.example/?wbraid=1", "", ("google", "cpc", "", "")),
        ("https://shop.example/?msclkid=1", "https://www.bing.com/", ("bing", "cpc", "", "")),
        (
            "https://shop.example/?fbclid=1",
            "https://l.facebook.com/",
            ("facebook", "social", "", ""),
        ),
        ("https://shop.example/", "https://t.co/xyz", ("twitter", "social", "", "")),
        ("https://shop.example/", "https://www.linkedin.com/feed", ("linkedin", "social", "", "")),
        (
            "https://shop.example/",
            "https://mail.google.com/mail/u/0",
            ("mail.google.com", "email", "", ""),
        ),
        (
            "https://shop.example/",
            "https://blog.partner.example/post",
            ("blog.partner.example", "referral", "", ""),
        ),
        ("https://shop.example/", "https://shop.example/other", ("(direct)", "(none)", "", "")),
        (
            "https://shop.example/?utm_source=Newsletter&utm_medium=E-Mail&utm_campaign=may",
            "",
            ("newsletter", "email", "may", ""),
        ),
        (
            "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=plumber",
            "https://www.google.com/",
            ("google", "cpc", "brand", "plumber"),
        ),
        (
            "https://shop.example/?utm_source=facebook&utm_medium=paid_social&fbclid=9",
            "",
            ("facebook", "paid_social", "", ""),
        ),
        ("https://shop.example/?utm_medium=display", "", ("(direct)", "display", "", "")),
        ("https://shop.example/?utm_source=billboard", "", ("billboard", "referral", "", "")),
        ("not a url", "also not a url", ("(direct)", "(none)", "", "")),
        ("https://shop.example/", "http://[::1", ("(direct)", "(none)", "", "")),
    ],
)
def test_classify(url, referrer, expected):
    got = classify(url, referrer, SITE)
    assert (got.source, got.medium, got.campaign, got.term) == expected


def test_click_ids_are_kept_and_bounded():
    got = classify("https://shop.example/?gclid=" + "x" * 500 + "&msclkid=m&other=1", "")
    assert set(got.click_ids) == {"gclid", "msclkid"}
    assert len(got.click_ids["gclid"]) == 100
    assert (got.source, got.medium) == ("google", "cpc")


def test_utm_values_are_bounded():
    got = classify("https://shop.example/?utm_source=" + "s" * 1000, "")
    assert len(got.source) == 100
