"""The snippet as served: ``snippet/ringtrail.js`` minified, with one site's settings baked in.

``GET /s/<site_key>.js`` serves contract v1 of the snippet. A breaking change to that
contract (the global, the ``data-*`` options, the public API it calls) freezes a copy
under a new versioned path instead of changing this one in place. The file ships inside
the package as ``ringtrail.snippet``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import string
from collections import Counter
from functools import lru_cache
from importlib import resources
from urllib.parse import urlsplit

from ringtrail import phones
from ringtrail.errors import NotFound
from ringtrail.tracking.directory import SiteConfig
from ringtrail.tracking.domains import cookie_domains, host_allowed
from ringtrail.tracking.sessions import Visitor, start_visit

log = logging.getLogger(__name__)

SNIPPET = resources.files("ringtrail.snippet") / "ringtrail.js"
CONFIG = re.compile(r"/\*CONFIG\*/.*?/\*END\*/", re.DOTALL)
# An optional part of the snippet: /*IF:name*/ ... /*FI*/ is served only to sites whose
# settings need the feature "name" (see features()), so a site pays no bytes for what it
# does not use. Blocks do not nest; each must be valid ES5 with or without its neighbours.
BLOCK = re.compile(r"/\*IF:(\w+)\*/(.*?)/\*FI\*/", re.DOTALL)
SENTINEL = "RINGTRAIL_CONFIG"
UNKNOWN_KEY_JS = "/* ringtrail: unknown site key; the page keeps its own numbers. */\n"
# A site without business numbers has nothing to swap: it gets no code at all.
NO_NUMBERS_JS = "/* ringtrail: this site has no numbers yet; the page keeps its own. */\n"
NO_NUMBERS_ETAG = hashlib.sha256(NO_NUMBERS_JS.encode()).hexdigest()[:20]


def block_names(source: str) -> set[str]:
    """The names of the optional blocks in the snippet's source."""
    return {match.group(1) for match in BLOCK.finditer(source)}


def with_features(source: str, features: frozenset[str]) -> str:
    """The source with the optional blocks of ``features`` kept and the others removed."""
    return BLOCK.sub(lambda m: m.group(2) if m.group(1) in features else "", source)


@lru_cache(maxsize=32)
def _template(mtime_ns: int, features: frozenset[str] = frozenset()) -> str:
    """The snippet as served: minified, with the optional blocks of ``features`` only, and
    a sentinel string where the settings go."""
    source = with_features(SNIPPET.read_text(encoding="utf-8"), features)
    source = CONFIG.sub(f'"{SENTINEL}"', source, count=1)
    try:
        return minify(source) + "\n"
    except ImportError:  # still correct, only larger: the size test says so
        log.warning("snippet: calmjs.parse is not installed; serving the snippet unminified")
        return source


def minify(source: str) -> str:
    """ES5 source minified by calmjs.parse, its strings in double quotes where that needs
    no escape: the settings baked in are JSON, so one quote style compresses better.

    The short names given to local identifiers are drawn from the letters the code uses
    most, as terser does: gzip codes frequent letters in fewer bits (13 bytes less for
    the international snippet, 9 for the North American one, than in a to z order).
    """
    from calmjs.parse import asttypes, es5
    from calmjs.parse.walkers import Walker

    tree = es5(source)
    for node in Walker().filter(tree, lambda node: isinstance(node, asttypes.String)):
        inner = node.value[1:-1]
        if node.value[0] == "'" and '"' not in inner:  # (an escape means the same in both)
            node.value = f'"{inner}"'
    first = _printed(tree, ID_CHARS)
    counts = Counter(char for char in first if char in ID_CHARS)
    return _printed(tree, "".join(sorted(ID_CHARS, key=lambda char: -counts[char])))


ID_CHARS = string.ascii_letters + "_"


def _printed(tree: object, charset: str) -> str:
    """``tree`` minified, its local identifiers renamed from ``charset`` in order."""
    from calmjs.parse import rules
    from calmjs.parse.handlers.obfuscation import (
        NameGenerator,
        Obfuscator,
        Resolve,
        token_handler_unobfuscate,
    )
    from calmjs.parse.lexers.es5 import Lexer
    from calmjs.parse.unparsers.es5 import Unparser

    class Renamer(Obfuscator):
        def finalize(self) -> None:  # Obfuscator.finalize, with our charset
            self.global_scope.close()
            names = NameGenerator(skip=self.reserved_keywords, charset=charset)
            self.global_scope.build_remap_symbols(names, children_only=True)

    def renaming() -> dict[str, object]:
        renamer = Renamer(shadow_funcname=True, reserved_keywords=Lexer.keywords_dict.keys())
        return {
            "token_handler": token_handler_unobfuscate,
            "deferrable_handlers": {Resolve: renamer.resolve},
            "prewalk_hooks": [renamer.prewalk_hook],
        }

    unparser = Unparser(rules=[rules.minify(drop_semi=True), renaming])
    return "".join(chunk.text for chunk in unparser(tree))


def template(features: frozenset[str] = frozenset()) -> str:
    """The minified snippet with the optional blocks of ``features``, minified again when
    the file changes."""
    with resources.as_file(SNIPPET) as path:
        return _template(path.stat().st_mtime_ns, features)


def js_json(value: object) -> str:
    """JSON that is safe inside JavaScript and inside an inline <script> element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def business_numbers(site: SiteConfig) -> list[str]:
    """The site's business numbers, each once, in the order of its pools."""
    return list(dict.fromkeys(p.business_number for p in site.pools))


def site_settings(site: SiteConfig, api: str) -> dict[str, object]:
    """What the snippet needs to know about a site; baked in, so no request is needed.

    A site with a number outside North America also gets ``f``: the country codes and
    the trunk prefixes of the numbers it can show, each as regular-expression
    alternatives (``["1|44|49", "0"]``), from which the snippet matches every way a number
    is written (national with its trunk prefix, international after + or 00, and
    "+44 (0)20" alike); the displays of a tracking number come with its lease.
    """
    numbers = business_numbers(site)
    settings: dict[str, object] = {"k": site.key, "n": numbers, "a": api.rstrip("/")}
    if "intl" in features(site):
        settings["f"] = country_codes(shown_numbers(site))
    if vanity := vanity_texts(site):
        settings["v"] = vanity
    if domains := cookie_domains(site):
        settings["c"] = domains
    return settings


@lru_cache(maxsize=1024)
def country_codes(numbers: tuple[str, ...]) -> list[str]:
    """The country codes and the trunk prefixes of ``numbers``, each list as alternatives
    of a regular expression (digits only, so nothing needs escaping)."""
    pairs = [phones.country_code_and_trunk(number) for number in numbers]
    codes = dict.fromkeys(code for code, _ in pairs if code)
    trunks = dict.fromkeys(trunk for _, trunk in pairs if trunk)
    return ["|".join(codes), "|".join(trunks)]


def vanity_texts(site: SiteConfig) -> dict[str, str]:
    """Each vanity text of the site's pools -> the business number it stands for (the
    first pool that lists a text has it)."""
    texts: dict[str, str] = {}
    for pool in site.pools:
        for text in pool.vanity_texts:
            texts.setdefault(text, pool.business_number)
    return texts


@lru_cache(maxsize=1024)
def _render(template_text: str, settings: str) -> tuple[str, str]:
    body = re.sub(f"([\"']){SENTINEL}\\1", lambda _: settings, template_text, count=1)
    return body, hashlib.sha256(body.encode()).hexdigest()[:20]


def features(site: SiteConfig) -> frozenset[str]:
    """The optional blocks of the snippet that this site's settings need.

    "nanp" matches North American numbers only, as compactly as it can; "intl" matches
    the numbers of any country (see ``site_settings``), and is served as soon as one
    number the site can show is outside North America; "vanity" swaps the pools' vanity
    texts; "subdomains" keeps the visit in a cookie on the registrable domain; "ga4"
    reads GA4's client and session ids (with consent) for a client that sends calls to GA4.
    """
    extra = {"vanity"} if any(p.vanity_texts for p in site.pools) else set()
    if site.ga4:
        extra.add("ga4")
    if cookie_domains(site):
        extra.add("subdomains")
    return _features(shown_numbers(site)) | extra


def shown_numbers(site: SiteConfig) -> tuple[str, ...]:
    """Every number the site's pages may show: business, pool and source numbers."""
    numbers: list[str] = []
    for pool in site.pools:
        numbers.append(pool.business_number)
        numbers += pool.numbers
        numbers += pool.source_numbers.values()
    return tuple(numbers)


@lru_cache(maxsize=1024)
def _features(numbers: tuple[str, ...]) -> frozenset[str]:
    everywhere = not all(phones.is_north_american(number) for number in numbers)
    return frozenset({"intl" if everywhere else "nanp"})


def render(site: SiteConfig, api: str) -> tuple[str, str]:
    """The snippet for one site, and its ETag."""
    if not site.pools:
        return NO_NUMBERS_JS, NO_NUMBERS_ETAG
    return _render(template(features(site)), js_json(site_settings(site, api)))


# AMP: amp-call-tracking fetches {phoneNumber, formattedPhoneNumber} by CORS GET.


def amp_page_url(site: SiteConfig, url: str, source_origin: str | None) -> str:
    """The AMP page's URL: ``url`` if it is on one of the site's hosts (or their
    subdomains, when the site shares the visit across them), else its origin."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts and parts.scheme in ("http", "https") and host_allowed(site, parts.hostname):
        return url[:2048]
    return (source_origin or (site.allowed_origins or ("https://unknown.invalid",))[0]) + "/"


def amp_number(
    site: SiteConfig,
    business_number: str | None,
    visitor: Visitor,
    *,
    url: str,
    referrer: str,
    lease: bool,
) -> str:
    """The number one AMP page view shows for one pool of the site (default the first):
    a leased or source-level number, else the business number. NotFound without pools."""
    pool = next((p for p in site.pools if p.business_number == business_number), None)
    pool = pool or (site.pools[0] if site.pools else None)
    if pool is None:
        raise NotFound("site has no pools")
    answer = start_visit(
        dataclasses.replace(site, pools=(pool,)),
        visitor,
        url=url,
        referrer=referrer[:2048],
        title="",
        lease=lease,
    )
    shown = answer["numbers"].get(pool.business_number)
    return shown["e164"] if shown else pool.business_number
