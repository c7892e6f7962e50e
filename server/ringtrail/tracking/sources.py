"""Where a visit came from, decided on the server from its URL and referrer."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

CLICK_IDS = ("gclid", "gbraid", "wbraid", "msclkid", "fbclid")

# Click ids that by themselves mean a paid click, and the network they belong to.
PAID_CLICK_IDS = {"gclid": "google", "gbraid": "google", "wbraid": "google", "msclkid": "bing"}

# Registrable-name fragments matched against the referrer host's labels.
SEARCH_ENGINES = {
    "google": "google",
    "bing": "bing",
    "yahoo": "yahoo",
    "duckduckgo": "duckduckgo",
    "baidu": "baidu",
    "yandex": "yandex",
    "ecosia": "ecosia",
    "ask": "ask",
    "aol": "aol",
    "naver": "naver",
    "seznam": "seznam",
    "qwant": "qwant",
    "startpage": "startpage",
    "search.brave": "brave",
}
SOCIAL_SITES = {
    "facebook": "facebook",
    "fb": "facebook",
    "instagram": "instagram",
    "t.co": "twitter",
    "twitter": "twitter",
    "x.com": "twitter",
    "linkedin": "linkedin",
    "lnkd.in": "linkedin",
    "pinterest": "pinterest",
    "reddit": "reddit",
    "youtube": "youtube",
    "tiktok": "tiktok",
    "snapchat": "snapchat",
    "threads.net": "threads",
    "quora": "quora",
    "tumblr": "tumblr",
    "vk.com": "vk",
    "nextdoor": "nextdoor",
    "yelp": "yelp",
}
EMAIL_HOSTS = (
    "mail.google.com",
    "outlook.live.com",
    "outlook.office.com",
    "outlook.office365.com",
    "mail.yahoo.com",
    "mail.aol.com",
    "mail.proton.me",
    "webmail.",
)
SEARCH_QUERY_PARAMS = ("q", "p", "query", "text", "wd")
EMAIL_MEDIUMS = ("email", "e-mail", "newsletter")
PAID_MEDIUMS = ("cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "cpm", "display")
FIELD_LIMIT = 100


@dataclass
class Source:
    """The classified origin of one visit."""

    source: str = "(direct)"
    medium: str = "(none)"
    campaign: str = ""
    term: str = ""
    content: str = ""
    click_ids: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """ "source|medium", the unit of visit counting and source-number matching."""
        return f"{self.source}|{self.medium}"


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().removeprefix("www.")
    except ValueError:
        return ""


def _match(host: str, table: dict[str, str]) -> str | None:
    labels = host.split(".")
    for fragment, name in table.items():
        if "." in fragment:
            if host == fragment or host.endswith("." + fragment) or host.startswith(fragment):
                return name
        elif fragment in labels[:-1] or (len(labels) == 1 and fragment == labels[0]):
            return name
    return None


def _first(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name)
    return values[0].strip()[:FIELD_LIMIT] if values else ""


def classify(url: str, referrer: str, site_hosts: tuple[str, ...] = ()) -> Source:
    """Classify a landing URL and referrer into source, medium, campaign, keyword, click ids."""
    try:
        params = parse_qs(urlsplit(url).query, keep_blank_values=False)
    except ValueError:
        params = {}
    out = Source()
    out.click_ids = {k: _first(params, k)[:FIELD_LIMIT] for k in CLICK_IDS if _first(params, k)}
    ref_host = _host(referrer)
    if ref_host and ref_host in {h.lower().removeprefix("www.") for h in site_hosts}:
        ref_host = ""  # an internal referrer says nothing about where the visit began

    # 1. The referrer.
    if ref_host:
        if any(ref_host == h or ref_host.startswith(h) for h in EMAIL_HOSTS):
            out.source, out.medium = ref_host, "email"
        elif engine := _match(ref_host, SEARCH_ENGINES):
            out.source, out.medium = engine, "organic"
            try:
                ref_params = parse_qs(urlsplit(referrer).query)
            except ValueError:
                ref_params = {}
            for name in SEARCH_QUERY_PARAMS:
                if term := _first(ref_params, name):
                    out.term = term
                    break
        elif social := _match(ref_host, SOCIAL_SITES):
            out.source, out.medium = social, "social"
        else:
            out.source, out.medium = ref_host[:FIELD_LIMIT], "referral"

    # 2. Click ids: a paid click id outranks the referrer.
    for click_id, network in PAID_CLICK_IDS.items():
        if click_id in out.click_ids:
            out.source, out.medium = network, "cpc"
            break
    else:
        if "fbclid" in out.click_ids and out.medium in ("(none)", "referral", "social"):
            # fbclid rides on every outbound Facebook link, organic posts included.
            out.source, out.medium = "facebook", "social"

    # 3. UTM parameters are the site owner's own words and win over both.
    utm_source = _first(params, "utm_source").lower()
    utm_medium = _first(params, "utm_medium").lower()
    if utm_source:
        out.source = utm_source
        out.medium = utm_medium or "referral"
    elif utm_medium:
        out.medium = utm_medium
    if out.medium in EMAIL_MEDIUMS:
        out.medium = "email"
    out.campaign = _first(params, "utm_campaign")
    out.term = _first(params, "utm_term") or out.term
    out.content = _first(params, "utm_content")
    return out


def is_paid(medium: str) -> bool:
    """Whether a medium is a paid channel."""
    return medium in PAID_MEDIUMS
