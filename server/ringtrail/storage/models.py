"""The SQL schema: the source of truth for configuration and call records.

agency → client → site → pool → tracking numbers; visit snapshots; calls; daily visits.
Schema changes ship as Alembic migrations in ``ringtrail/storage/migrations``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from ringtrail import terms


def utcnow() -> datetime:
    """Timezone-aware now, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always hands back aware datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Twilio account this agency's numbers live in; requests from others are refused.
    twilio_account_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Sealed with ringtrail.crypto (read them with ``crypto.unseal``), never in clear.
    twilio_auth_token: Mapped[str | None] = mapped_column(String(512))
    # Still accepted while a token rotation is under way.
    twilio_previous_auth_token: Mapped[str | None] = mapped_column(String(512))
    # An optional API key (SK…) and its sealed secret: the REST API uses them instead of
    # the auth token when set (the token still checks webhook signatures).
    twilio_api_key_sid: Mapped[str | None] = mapped_column(String(64))
    twilio_api_key_secret: Mapped[str | None] = mapped_column(String(512))
    # Every user of the agency must enrol a second factor before doing anything else.
    require_two_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where calls to numbers of the account that Ringtrail does not route (released,
    # bought elsewhere, of a suspended client) go; else RINGTRAIL_DEFAULT_FORWARD_NUMBER.
    default_forward_number: Mapped[str | None] = mapped_column(String(20))
    # When an admin put the first-run checklist away (only once every step was done).
    first_run_dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    clients: Mapped[list[Client]] = relationship(back_populates="agency")


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    business_number: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    us_state: Mapped[str | None] = mapped_column(String(2))
    record_calls: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_notice: Mapped[str] = mapped_column(Text, default=terms.DEFAULT_NOTICE)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    # Consent: "all_party" (default: the notice always plays) or "one_party" (allowed only
    # outside all-party states; the notice still plays to callers from all-party states).
    consent_mode: Mapped[str] = mapped_column(String(16), default=terms.DEFAULT_CONSENT_MODE)
    transcribe: Mapped[bool] = mapped_column(Boolean, default=False)
    whisper: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"mon": [["09:00", "17:00"]], ...} in the client's timezone; None = always open.
    business_hours: Mapped[dict | None] = mapped_column(JSON)
    after_hours_number: Mapped[str | None] = mapped_column(String(20))
    voicemail: Mapped[bool] = mapped_column(Boolean, default=False)
    voicemail_prompt: Mapped[str] = mapped_column(Text, default=terms.DEFAULT_VOICEMAIL_PROMPT)
    retention_call_days: Mapped[int] = mapped_column(
        Integer, default=terms.RETENTION_DEFAULT_DAYS["call"]
    )
    retention_snapshot_days: Mapped[int] = mapped_column(
        Integer, default=terms.RETENTION_DEFAULT_DAYS["snapshot"]
    )
    retention_recording_days: Mapped[int] = mapped_column(
        Integer, default=terms.RETENTION_DEFAULT_DAYS["recording"]
    )
    hipaa: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="clients")
    sites: Mapped[list[Site]] = relationship(back_populates="client")


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[str] = mapped_column(String(40), unique=True)
    # Origins (scheme://host[:port]) granted CORS for the public API.
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "auto": lease unless GPC; "required": wait for ringtrail('consent', true).
    consent_mode: Mapped[str] = mapped_column(String(16), default="auto")
    honor_dnt: Mapped[bool] = mapped_column(Boolean, default=False)
    # Share the visit across the subdomains of the allowed origins' registrable domain:
    # a cookie on that domain (where consent allows storing one), and CORS for them.
    share_subdomains: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client] = relationship(back_populates="sites")
    pools: Mapped[list[Pool]] = relationship(back_populates="site", order_by="Pool.id")


class Pool(Base):
    __tablename__ = "pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # The business number on the page that this pool's numbers replace.
    business_number: Mapped[str] = mapped_column(String(20))
    lease_seconds: Mapped[int] = mapped_column(Integer, default=terms.DEFAULT_LEASE_SECONDS)
    match_window_seconds: Mapped[int] = mapped_column(
        Integer, default=terms.DEFAULT_MATCH_WINDOW_SECONDS
    )
    exhaustion_policy: Mapped[str] = mapped_column(
        String(16), default=terms.DEFAULT_EXHAUSTION_POLICY
    )
    record_calls: Mapped[bool | None] = mapped_column(Boolean)  # None: the client's setting
    # How long a released number rests before another visitor gets it; None: the match
    # window, so that a late call from its last holder cannot reach a new one.
    rest_seconds: Mapped[int | None] = mapped_column(Integer)
    # Texts on the page that stand for the business number ("239-400-FREE"): shown as
    # the leased number's display, left alone when none is leased. None: no texts.
    vanity_texts: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship(back_populates="pools")

    @property
    def rest(self) -> int:
        """The rest in force: the pool's own, else its match window."""
        return self.match_window_seconds if self.rest_seconds is None else self.rest_seconds

    numbers: Mapped[list[TrackingNumber]] = relationship(
        back_populates="pool", order_by="TrackingNumber.id"
    )


class TrackingNumber(Base):
    """A number that rings through to its pool's business number.

    role "pool": leased to visitors; "overflow": shown when the pool is exhausted under
    the overflow policy; "source": a fixed number for visitors with no lease whose source
    matches ``source`` ("google", "google/organic", or "*" for any).
    """

    __tablename__ = "tracking_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="pool")
    source: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    record_calls: Mapped[bool | None] = mapped_column(Boolean)  # None: the pool's setting
    # Retiring (autosizing): out of the pool's lease set since then, still routed; it goes
    # back to the carrier once no visitor shown it can still be in the match window, no
    # sooner than ``release_after`` (see ``tracking/retiring.py``).
    retiring_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The carrier's id of the number (Twilio's PN…), when it was bought or imported here.
    carrier_sid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pool: Mapped[Pool] = relationship(back_populates="numbers")


class PoolAutosize(Base):
    """A pool's autosizing settings (opt-in) and the state of its scheduled job.

    ``monthly_cap_minor`` is the monthly spending cap in minor units of ``currency``
    (cents; None: no cap). ``surplus_since`` is when the recommendation first fell below
    the pool's size (and has stayed there): surplus numbers retire after ``cooldown_seconds``.
    """

    __tablename__ = "pool_autosizing"

    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    target_overflow: Mapped[float] = mapped_column(Float, default=terms.DEFAULT_TARGET_OVERFLOW)
    min_numbers: Mapped[int] = mapped_column(Integer, default=terms.DEFAULT_AUTOSIZE_MIN)
    max_numbers: Mapped[int] = mapped_column(Integer, default=terms.DEFAULT_AUTOSIZE_MAX)
    monthly_cap_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    cooldown_seconds: Mapped[int] = mapped_column(
        Integer, default=terms.DEFAULT_AUTOSIZE_COOLDOWN_SECONDS
    )
    surplus_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_plan: Mapped[dict | None] = mapped_column(JSON)


class VisitSnapshot(Base):
    """The visit that led to a call, copied from Redis when the call is attributed."""

    __tablename__ = "visit_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(40), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    landing_url: Mapped[str] = mapped_column(Text, default="")
    landing_title: Mapped[str] = mapped_column(String(200), default="")
    referrer: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    medium: Mapped[str] = mapped_column(String(100), default="")
    campaign: Mapped[str] = mapped_column(String(200), default="")
    term: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(String(200), default="")
    click_ids: Mapped[dict] = mapped_column(JSON, default=dict)
    device: Mapped[str] = mapped_column(String(20), default="")
    browser: Mapped[str] = mapped_column(String(60), default="")
    os: Mapped[str] = mapped_column(String(60), default="")
    pages: Mapped[list] = mapped_column(JSON, default=list)
    # What the visitor allowed (0010u): "granted" when the page said they consented
    # (ringtrail('consent', true)); None when it never said (a site in "auto" mode, or a
    # visit from before this column): ad platforms then get consent denied.
    consent: Mapped[str | None] = mapped_column(String(12))
    # GA4's ids, read from the _ga cookies only with consent and only for sites whose
    # client sends calls to GA4: {"cid": client id, "sid": session id}.
    ga4: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Call(Base):
    """One phone call of one agency, keyed by (agency, carrier's call id); every job
    upserts it. A call id names a call only within the agency's carrier account, so
    another agency sending the same id makes a call of its own, never touches this one."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("agency_id", "call_sid", name="uq_calls_agency_id_call_sid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL only for calls recorded before 0007b whose client was unknown.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    provider: Mapped[str] = mapped_column(String(20), default="twilio")
    call_sid: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"), index=True)
    tracking_number: Mapped[str] = mapped_column(String(20), default="")
    forwarded_to: Mapped[str] = mapped_column(String(20), default="")
    caller_number: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(20), default="ringing")
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    answered: Mapped[bool | None] = mapped_column(Boolean)
    dial_status: Mapped[str | None] = mapped_column(String(20))
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[str] = mapped_column(String(12), default="none")
    session_id: Mapped[str | None] = mapped_column(String(40), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit_snapshots.id"))
    # An ambiguous call: the visit snapshots of every visitor who could have called, best
    # first (ids; a snapshot erased or expired since is skipped when shown).
    candidates: Mapped[list[int] | None] = mapped_column(JSON)
    # A repeat call: the earlier call of the same caller whose visit it was given. No
    # foreign key: retention and erasure may remove the earlier call first.
    repeat_of: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(100), default="")
    medium: Mapped[str] = mapped_column(String(100), default="")
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_played: Mapped[bool] = mapped_column(Boolean, default=False)
    # Proof of disclosure: a hash of the notice text that played, and when.
    notice_version: Mapped[str | None] = mapped_column(String(16))
    notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # terms.ROUTE_KINDS: "normal", "overflow", "after_hours", "voicemail", "unknown_number",
    # "suspended", "fallback" ("unknown" in records made before 0008b)
    route_kind: Mapped[str] = mapped_column(String(16), default="normal")
    # Approximate: the area of the number, not where the caller is.
    caller_state: Mapped[str | None] = mapped_column(String(2))
    # Keyed hash of the caller's number: repeat callers without the number (HIPAA mode).
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    transcription: Mapped[str | None] = mapped_column(Text)
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    recording_url: Mapped[str | None] = mapped_column(Text)
    recording_seconds: Mapped[int | None] = mapped_column(Integer)
    # Outcome (calls/outcomes.py): terms.LEAD_STATUSES; a value in minor units (cents) of
    # ``currency``; ``outcome_sources`` says who set each of "tags", "lead_status" and
    # "value": "manual" (a person or a script: rules never overwrite it), "rule" or "block".
    lead_status: Mapped[str] = mapped_column(String(16), default="new")
    value_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    outcome_sources: Mapped[dict] = mapped_column(JSON, default=dict)
    # Refused by the carrier response because the client blocked the caller (always spam).
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the client's rules ran on the completed call: they run once (a job may rerun).
    rules_ran_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    visit: Mapped[VisitSnapshot | None] = relationship()
    tags: Mapped[list[CallTag]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallTag.id"
    )
    notes: Mapped[list[CallNote]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallNote.id"
    )

    @property
    def tag_names(self) -> list[str]:
        """The call's tags, by name, in the order they were added."""
        return [t.tag.name for t in self.tags]


class ClientTag(Base):
    """One word of a client's own tag vocabulary; calls carry only these."""

    __tablename__ = "client_tags"
    __table_args__ = (UniqueConstraint("client_id", "name", name="uq_client_tags_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CallTag(Base):
    """A tag on a call, with who put it there ("manual" or "rule")."""

    __tablename__ = "call_tags"
    __table_args__ = (UniqueConstraint("call_id", "tag_id", name="uq_call_tags"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("client_tags.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(8), default="manual")

    call: Mapped[Call] = relationship(back_populates="tags")
    tag: Mapped[ClientTag] = relationship(lazy="joined")


class CallNote(Base):
    """A note on a call: who wrote it (e-mail, key prefix or "cli") and when."""

    __tablename__ = "call_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(254), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    call: Mapped[Call] = relationship(back_populates="notes")


class Rule(Base):
    """An automation rule of one client: when every condition holds for a completed call,
    its actions set the outcome (calls/rules.py). Rules run in ``position`` order (then id).

    ``conditions``: [{"kind": terms.RULE_CONDITIONS, "value": ...}]; ``actions``:
    [{"kind": terms.RULE_ACTIONS, ...}].
    """

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[list] = mapped_column(JSON, default=list)
    actions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BlockedCaller(Base):
    """A caller a client refuses: the keyed hash of the number (``hashing.caller_hash``,
    the one calls carry), and the number itself only where the client keeps callers'
    numbers anyway (never in HIPAA mode). Part of the configuration: it reaches the voice
    webhook through the cached directory."""

    __tablename__ = "blocked_callers"
    __table_args__ = (UniqueConstraint("client_id", "caller_hash", name="uq_blocked_callers_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    caller_hash: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DailyVisits(Base):
    """Visits per site and UTC day, by source, medium, campaign, keyword and landing page:
    the denominator of every conversion rate. An aggregate: no row names a visitor.

    ``dims`` is a short hash of (campaign, keyword, landing page), so that the unique key
    stays small whatever the lengths of those values; "" for counts kept before they were
    counted (source and medium only)."""

    __tablename__ = "daily_visits"
    __table_args__ = (
        UniqueConstraint("site_id", "day", "source", "medium", "dims", name="uq_daily_visits"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(100), default="")
    medium: Mapped[str] = mapped_column(String(100), default="")
    campaign: Mapped[str] = mapped_column(String(200), default="")
    keyword: Mapped[str] = mapped_column(String(200), default="")
    landing_page: Mapped[str] = mapped_column(String(300), default="")
    dims: Mapped[str] = mapped_column(String(40), default="")
    visits: Mapped[int] = mapped_column(Integer, default=0)


class PoolHour(Base):
    """A pool's load in one hour: the raw material of pool-health reports and sizing."""

    __tablename__ = "pool_hours"
    __table_args__ = (UniqueConstraint("pool_id", "hour"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id"), index=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime)  # start of the hour, UTC
    new_leases: Mapped[int] = mapped_column(Integer, default=0)
    exhausted: Mapped[int] = mapped_column(Integer, default=0)
    peak_leases: Mapped[int] = mapped_column(Integer, default=0)
    held_seconds: Mapped[int] = mapped_column(Integer, default=0)
    ended_leases: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    """A person who logs in to the dashboard.

    An agency admin sees every client of the agency (``client_id`` is NULL); a client
    manager or a report-only user belongs to exactly one client.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change or deactivation (their login sessions are deleted too).
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # TOTP seed, sealed with ringtrail.crypto; in use once ``two_factor_enabled_at`` is set
    # (before that it waits for the first code that proves the enrolment).
    two_factor_secret: Mapped[str | None] = mapped_column(String(512))
    two_factor_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last TOTP time step accepted: a code of that step or an earlier one is a replay.
    two_factor_last_step: Mapped[int | None] = mapped_column(Integer)


class LoginSession(Base):
    """One dashboard login, held on the server: the cookie carries only a random token,
    whose SHA-256 is stored here. Deleting the row ends the login, wherever the cookie is.

    ``pending_second_factor`` marks a login whose password was right and that waits for a
    TOTP or recovery code; it grants nothing else.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pending_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_codes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """A one-time two-factor recovery code: only its keyed hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A key for scripts: only its SHA-256 is stored; the key itself is shown once.

    Scoped to the whole agency (``client_id`` NULL) or to one client.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists, to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what to which object, in which tenant; "denied" marks a cross-tenant try."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    actor_type: Mapped[str] = mapped_column(String(10))  # user | key | cli
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(254), default="")  # email or key prefix
    action: Mapped[str] = mapped_column(String(20))  # create | update | delete | denied | ...
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ErasureReceipt(Base):
    """Proof that an erasure ran: what was asked (never the number itself) and what went."""

    __tablename__ = "erasure_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "caller" or "session"
    subject_hash: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(200), default="")
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConfigVersion(Base):
    """One row whose number goes up with every change to agencies, clients, sites, pools
    or numbers (see ``db.py``), so a process can tell in one cheap query whether its
    cached routing table is still current instead of reloading every number."""

    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class AppliedEvent(Base):
    """A call event whose change is committed, written in the same transaction: a job
    that runs again skips it, and a spooled copy of it (the write-ahead log on a web
    node) may be deleted. Rows go after a week (retention)."""

    __tablename__ = "applied_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookEndpoint(Base):
    """A receiver of signed call events (``outbound/webhooks.py``): the agency's (every
    client's calls, ``client_id`` NULL) or one client's.

    ``state``: "enabled"; "paused" (failing for days: deliveries wait until it is
    resumed); "disabled" (by hand, or the receiver answered 410 Gone: nothing new is
    queued). ``secret`` is sealed (``ringtrail.crypto``); after a rotation the previous
    one still signs, beside it, until ``previous_secret_until``. ``failing_since`` is the
    first failed attempt since the last success.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Opt-in: the caller's number in the payload (never for a client in HIPAA mode).
    include_caller_number: Mapped[bool] = mapped_column(Boolean, default=False)
    secret: Mapped[str] = mapped_column(String(512))
    previous_secret: Mapped[str | None] = mapped_column(String(512))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12), default="enabled")
    state_reason: Mapped[str] = mapped_column(String(200), default="")
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint: a Standard Webhooks message (``message_id`` is its
    ``webhook-id``, the same on every retry and manual resend) and the exact body sent.

    Unique on (endpoint, event_key), so a hook heard twice writes one row. ``status``:
    "pending" (waiting for ``next_attempt_at``), "sending" (claimed until
    ``lease_until``: a worker killed mid-attempt leaves it to be claimed again),
    "delivered" or "failed" (given up; it can be sent again by hand). Deleted with its
    call (retention, erasure), since the body holds the call's visit.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_key", name="uq_webhook_deliveries_event"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(120))
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(200), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookAttempt(Base):
    """One attempt of a delivery: when, the answer's status code (None: no answer),
    latency, a short error, and whether a person asked for it. No response body."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    response_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(String(200), default="")
    manual: Mapped[bool] = mapped_column(Boolean, default=False)


CONFIG_MODELS = (Agency, Client, Site, Pool, TrackingNumber, BlockedCaller)


class AdDestination(Base):
    """Where one client's calls go as conversions: Google Ads (the Data Manager API) or
    GA4 (the Measurement Protocol), and which calls count (outbound/platforms/rules.py).

    Secrets (``refresh_token``, ``oauth_client_secret``, ``api_secret``) are sealed with
    ``ringtrail.crypto``. ``paused_at`` is set when the platform refuses the credentials:
    nothing is sent until someone connects again.
    """

    __tablename__ = "ad_destinations"
    __table_args__ = (UniqueConstraint("client_id", "platform", name="uq_ad_destinations"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))  # "google_ads" | "ga4"
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Which calls count: any of these lead statuses or tags, or at least this long.
    lead_statuses: Mapped[list] = mapped_column(JSON, default=list)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    min_duration_seconds: Mapped[int | None] = mapped_column(Integer)  # None: no minimum
    min_confidence: Mapped[str] = mapped_column(String(12), default="late")
    # The value of a call whose outcome has none, in minor units of ``currency``.
    default_value_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # Google Ads: the operating account, an optional manager (login) account, the
    # conversion action, and OAuth 2.0 client + refresh token.
    account_id: Mapped[str | None] = mapped_column(String(20))
    login_account_id: Mapped[str | None] = mapped_column(String(20))
    conversion_action_id: Mapped[str | None] = mapped_column(String(40))
    oauth_client_id: Mapped[str | None] = mapped_column(String(200))
    oauth_client_secret: Mapped[str | None] = mapped_column(String(512))
    refresh_token: Mapped[str | None] = mapped_column(String(1024))
    # GA4: the web stream's measurement id and API secret, and the event's name.
    measurement_id: Mapped[str | None] = mapped_column(String(20))
    api_secret: Mapped[str | None] = mapped_column(String(512))
    event_name: Mapped[str] = mapped_column(String(40), default="phone_call")
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdUpload(Base):
    """One call's conversion (or a later value adjustment) for one destination: the upload
    log. ``status``: "queued", "accepted" (the platform took it), "sent" (a platform that
    confirms nothing, GA4), "rejected" (with the platform's reason) or "skipped" (with
    why: terms-like codes in outbound/platforms/rules.py). ``key`` is "conversion" or
    "adjust:<value>:<currency>": a job that runs twice writes each once."""

    __tablename__ = "ad_uploads"
    __table_args__ = (UniqueConstraint("destination_id", "call_id", "key", name="uq_ad_uploads"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("ad_destinations.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(60), default="conversion")
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    value_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OutboundMessage(Base):
    """One message in the durable outbox (outbound/messages.py): an e-mail or a Slack
    post, written in the transaction of whatever asked for it and sent later by a job.

    ``status``: "queued" (waiting for ``next_attempt_at``), "sent", "failed" (refused for
    good: a bad address, a Slack URL that no longer exists) or "expired" (still unsent
    after ``outbound.messages.MAX_AGE``). ``dedupe_key`` (optional, unique) lets a job
    that runs twice write the message once. ``slack_url`` is sealed (ringtrail.crypto).
    """

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # "email" | "slack"
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    slack_url: Mapped[str | None] = mapped_column(String(1024))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # The call a notification is about (no foreign key: the message may outlive nothing
    # of the call, so deleting the call deletes it, see privacy/retention.delete_calls).
    call_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(Base):
    """What one user wants to be told about one client, and how (outbound/preferences.py).

    An agency admin may hold one row per client of the agency; a client's user only for
    that client. E-mail goes to the user's address; Slack to the client's webhook URL
    (:class:`ClientNotifications`), when an admin or manager set one.
    """

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "client_id", name="uq_notification_preferences"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    new_calls: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_calls: Mapped[bool] = mapped_column(Boolean, default=False)
    first_time_callers: Mapped[bool] = mapped_column(Boolean, default=False)
    qualified_leads: Mapped[bool] = mapped_column(Boolean, default=False)
    daily_summary: Mapped[bool] = mapped_column(Boolean, default=False)
    weekly_summary: Mapped[bool] = mapped_column(Boolean, default=False)
    by_email: Mapped[bool] = mapped_column(Boolean, default=True)
    by_slack: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ClientNotifications(Base):
    """A client's notification settings: its Slack incoming-webhook URL (sealed with
    ringtrail.crypto, never in clear) and the local hour summaries go out."""

    __tablename__ = "client_notifications"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    slack_webhook_url: Mapped[str | None] = mapped_column(String(1024))
    summary_hour: Mapped[int] = mapped_column(Integer, default=8)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# AdDestination: whether a client sends calls to GA4 decides the snippet's "ga4" block.
CONFIG_MODELS = (Agency, Client, Site, Pool, TrackingNumber, BlockedCaller, AdDestination)
