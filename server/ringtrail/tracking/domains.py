"""Registrable domains: which origins share a site's visit when it spans its subdomains.

A site with ``share_subdomains`` keeps one visit across ``www.example.co.uk`` and
``shop.example.co.uk``: the snippet stores it in a cookie on ``example.co.uk``, and the
public API grants CORS to any origin on a registrable domain of the site's allowed
origins, with the same scheme. The registrable domain is the public suffix plus one
label, read from the Public Suffix List that ``publicsuffixlist`` bundles (no network):
``github.io`` and ``co.uk`` are suffixes, so ``a.github.io`` never shares with
``b.github.io``. IP addresses and single-label hosts have none.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from ringtrail.tracking.directory import SiteConfig


@lru_cache(maxsize=1)
def _list() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=4096)
def registrable_domain(host: str | None) -> str | None:
    """``example.co.uk`` for ``shop.example.co.uk``; None for an IP address, a public
    suffix or a single-label host."""
    host = (host or "").strip().rstrip(".").lower()
    if not host or "." not in host:
        return None
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return _list().privatesuffix(host)
    return None


def _scheme_and_domain(origin: str) -> tuple[str, str | None]:
    try:
        parts = urlsplit(origin)
        return parts.scheme, registrable_domain(parts.hostname)
    except ValueError:
        return "", None


def cookie_domains(site: SiteConfig) -> list[str]:
    """The registrable domains of the site's allowed origins, when it shares the visit
    across their subdomains (else none)."""
    if not site.share_subdomains:
        return []
    domains = (_scheme_and_domain(o)[1] for o in site.allowed_origins)
    return list(dict.fromkeys(d for d in domains if d))


def origin_allowed(site: SiteConfig, origin: str) -> bool:
    """Whether ``origin`` may call the public API for ``site``: one of its allowed
    origins, or, when it shares the visit across subdomains, an origin of the same
    scheme on the registrable domain of one of them."""
    origin = origin.rstrip("/")
    if origin in site.allowed_origins:
        return True
    if not site.share_subdomains:
        return False
    scheme, domain = _scheme_and_domain(origin)
    if domain is None or scheme not in ("http", "https"):
        return False
    return any(_scheme_and_domain(o) == (scheme, domain) for o in site.allowed_origins)


def host_allowed(site: SiteConfig, host: str | None) -> bool:
    """Whether a page on ``host`` belongs to the site (an AMP page's URL, a referrer)."""
    if host in site.hosts:
        return True
    domain = registrable_domain(host)
    return bool(site.share_subdomains and domain) and any(
        registrable_domain(h) == domain for h in site.hosts
    )


def internal_hosts(site: SiteConfig, referrer: str) -> tuple[str, ...]:
    """The hosts from which ``referrer`` is internal to the site: its own, and the
    referrer's host itself when the site shares the visit across its subdomains and that
    host is one of them (``blog.example.co.uk`` for ``www.example.co.uk``)."""
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        host = None
    if host and site.share_subdomains and host_allowed(site, host):
        return (*site.hosts, host)
    return site.hosts
