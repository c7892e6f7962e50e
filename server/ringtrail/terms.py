"""The words Ringtrail's records are made of, each defined once.

Roles, pool policies, number roles, attribution confidences, call routes, consent modes,
day names and the defaults a new client starts from. Models, schemas, services and pages
all read them from here, so a new value is added in one place.
"""

from __future__ import annotations

import re

# Who a person (or an API key) is to Ringtrail.
ROLES = ("agency_admin", "client_manager", "report_only")
EDITORS = ("agency_admin", "client_manager")  # may change configuration; hear recordings

# What a pool does when every number is leased.
EXHAUSTION_POLICIES = ("reuse_oldest", "overflow", "original")
DEFAULT_EXHAUSTION_POLICY = "reuse_oldest"

# What a tracking number is for: leased to visits, shown on exhaustion, or fixed per source.
NUMBER_ROLES = ("pool", "overflow", "source")

# How sure the attribution of a call is.
CONFIDENCES = ("exact", "late", "ambiguous", "repeat", "source", "none")
# The same confidences in a marketer's words (pages and CSV headers), and what each means;
# pages show the technical term in a tooltip.
CONFIDENCE_LABELS = {
    "exact": "Matched to a visit",
    "late": "Matched after the visit",
    "ambiguous": "Shared number",
    "repeat": "Repeat caller's visit",
    "source": "Source only",
    "none": "No visit",
}
CONFIDENCE_MEANINGS = {
    "exact": "the visitor held this number when the call came, and nobody else could have called",
    "late": "the one visitor who could have called: their lease had ended, within the match window",
    "ambiguous": "several visitors could have called; the likeliest is shown",
    "repeat": "this caller called before: the visit of that earlier call",
    "source": "a fixed source-level number: a source, not a person",
    "none": "nobody could have called from a visit",
}
# Whether a call is the caller's first to the client ("first") or not ("repeat"); calls
# from withheld numbers are neither.
CALLER_KINDS = ("first", "repeat")
CALLER_KIND_LABELS = {"first": "First-time caller", "repeat": "Repeat caller"}

# How a call was answered (Call.route_kind). A number Ringtrail does not route
# ("unknown_number") or of a suspended client ("suspended") goes to the agency's default
# number; "fallback": only the number's Fallback URL was reached. "unknown" is kept for
# records made before 0008b.
ROUTE_KINDS = (
    "normal",
    "overflow",
    "after_hours",
    "voicemail",
    "unknown_number",
    "suspended",
    "fallback",
    "unknown",
    "blocked",
)
# Calls that no route took as configured: the call log labels them.
UNROUTED = ("unknown_number", "suspended", "fallback", "unknown")
# A few words for each route kind, for the call log, the API and exports.
ROUTE_LABELS = {
    "normal": "normal",
    "overflow": "overflow number",
    "after_hours": "after hours",
    "voicemail": "voicemail",
    "unknown_number": "unknown number",
    "suspended": "suspended client",
    "fallback": "fallback",
    "unknown": "unknown number",
    "blocked": "blocked caller",
}

# The kinds of call event a carrier sends over the life of one call.
EVENT_KINDS = ("voice", "status", "dial", "recording", "transcription")

# Recording consent.
CONSENT_MODES = ("all_party", "one_party")
DEFAULT_CONSENT_MODE = "all_party"
DEFAULT_NOTICE = "This call may be recorded for quality and training purposes."
DEFAULT_VOICEMAIL_PROMPT = (
    "Sorry, nobody can take your call. Please leave a message after the tone."
)

# Business hours are kept per day, Monday first (datetime.weekday() order).
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# How long a client's records are kept, in days, unless the client says otherwise.
RETENTION_DEFAULT_DAYS = {"call": 761, "snapshot": 761, "recording": 90}  # 25 months
RETENTION_MAX_DAYS = 3650

# Pool defaults.
DEFAULT_LEASE_SECONDS = 1800
DEFAULT_MATCH_WINDOW_SECONDS = 3600

# Control characters: no stored text may hold them (tabs and newlines aside).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Autosizing (opt-in per pool): the share of peak visitors a pool may turn away, its
# bounds, and how long the recommendation must stay below the pool's size before
# surplus numbers retire.
DEFAULT_TARGET_OVERFLOW = 0.01
DEFAULT_AUTOSIZE_MIN = 1
DEFAULT_AUTOSIZE_MAX = 100
DEFAULT_AUTOSIZE_COOLDOWN_SECONDS = 7 * 86400

# Call outcomes (calls/outcomes.py): what a call was worth, set by people and by rules.
LEAD_STATUSES = ("new", "qualified", "not_a_lead", "spam", "customer")
LEAD_LABELS = {
    "new": "new",
    "qualified": "qualified",
    "not_a_lead": "not a lead",
    "spam": "spam",
    "customer": "customer",
}
# The parts of an outcome whose setter is tracked: a rule never overwrites a person's.
OUTCOME_FIELDS = ("tags", "lead_status", "value")
# Who set an outcome field: a person or a script ("manual"), a rule, or the block list.
OUTCOME_SOURCES = ("manual", "rule", "block")
TAG_MAX = 60
NOTE_MAX = 4000

# Automation rules (calls/rules.py): what a condition tests, and what an action does.
RULE_CONDITIONS = (
    "min_duration",  # value: seconds; the call lasted at least that long
    "answered",  # value: true (answered) or false (missed)
    "first_time_caller",  # value: true or false
    "source",  # value: text, equal ignoring case
    "medium",
    "campaign",
    "keyword",
    "landing_page",  # value: text the landing page URL contains, ignoring case
    "tracking_number",  # value: E.164
    "business_hours",  # value: "inside" or "outside" (the client's hours and time zone)
    "caller_state",  # value: two letters; the caller number's area, approximate
)
RULE_ACTIONS = ("add_tag", "set_lead_status", "set_value")
