"""Helpers shared by the tests: factories, signed carrier requests, API keys, logins, and
stores that can be made to fail."""

from __future__ import annotations

import secrets
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from rq import SimpleWorker
from rq.serializers import JSONSerializer
from twilio.request_validator import RequestValidator

from ringtrail.accounts import access
from ringtrail.accounts.auth import cli_principal, hash_password
from ringtrail.crypto import seal, unseal
from ringtrail.storage.models import (
    Agency,
    Call,
    Client,
    Pool,
    Site,
    TrackingNumber,
    User,
    VisitSnapshot,
)
from ringtrail.storage.sql import make_engine

PUBLIC_URL = "https://ringtrail.test"
ORIGIN = "https://shop.example"
BUSINESS = "+14155550100"
DEFAULT_FORWARD = "+14155550199"
HUMAN_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)


@dataclass
class Setup:
    """What make_site created."""

    agency: Agency
    client: Client
    site: Site
    pool: Pool
    numbers: list[str]
    token: str
    account_sid: str
    site_key: str
    extra: dict = field(default_factory=dict)


def tracking_numbers(count: int, start: int = 0, area: str = "628") -> list[str]:
    """Distinct valid-looking US numbers, +1 AREA 555 01xx and beyond."""
    return [f"+1{area}{2000000 + start + i:07d}" for i in range(count)]


def make_site(
    db,
    *,
    numbers: int | list[str] = 5,
    lease_seconds: int = 60,
    match_window: int = 3600,
    policy: str = "reuse_oldest",
    origins: tuple[str, ...] = (ORIGIN,),
    record: bool = False,
    notice: str = "This call may be recorded.",
    overflow: str | None = None,
    source_numbers: dict[str, str] | None = None,
    business: str = BUSINESS,
    consent_mode: str = "auto",
    agency: Agency | None = None,
    number_start: int = 0,
) -> Setup:
    """One agency → client → site → pool with tracking numbers, committed."""
    token = secrets.token_hex(16)
    if agency is None:
        agency = Agency(
            name="Agency " + secrets.token_hex(3),
            twilio_account_sid="AC" + secrets.token_hex(16),
            twilio_auth_token=seal(token),
        )
        db.add(agency)
    client = Client(
        agency=agency,
        name="Client",
        business_number=business,
        record_calls=record,
        recording_notice=notice,
        us_state="CA",
    )
    site = Site(
        client=client,
        name="Site",
        public_key=secrets.token_hex(10),
        allowed_origins=list(origins),
        consent_mode=consent_mode,
    )
    pool = Pool(
        site=site,
        business_number=business,
        lease_seconds=lease_seconds,
        match_window_seconds=match_window,
        exhaustion_policy=policy,
    )
    nums = numbers if isinstance(numbers, list) else tracking_numbers(numbers, number_start)
    pool.numbers = [TrackingNumber(number=n, role="pool") for n in nums]
    if overflow:
        pool.numbers.append(TrackingNumber(number=overflow, role="overflow"))
    for source, number in (source_numbers or {}).items():
        pool.numbers.append(TrackingNumber(number=number, role="source", source=source))
    db.add_all([client, site, pool])
    db.commit()
    return Setup(
        agency=agency,
        client=client,
        site=site,
        pool=pool,
        numbers=nums,
        token=unseal(agency.twilio_auth_token),
        account_sid=agency.twilio_account_sid,
        site_key=site.public_key,
    )


def sign(url: str, params: dict[str, str], token: str) -> str:
    """X-Twilio-Signature for a POST of ``params`` to ``url``."""
    return RequestValidator(token).compute_signature(url, params)


def twilio_post(
    client,
    path: str,
    params: dict[str, str],
    token: str | None,
    *,
    signed_url: str | None = None,
    headers: dict | None = None,
):
    """POST a form to the test client as Twilio would, signed with ``token``."""
    url = signed_url or PUBLIC_URL + path
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["X-Twilio-Signature"] = sign(url, params, token)
    return client.post(
        path,
        data=urlencode(params),
        headers=hdrs,
        content_type="application/x-www-form-urlencoded",
    )


def call_params(
    setup: Setup, to: str, sid: str | None = None, caller: str = "+12125550143", **extra: str
) -> dict[str, str]:
    """The parameters of an inbound voice webhook."""
    params = {
        "AccountSid": setup.account_sid,
        "CallSid": sid or "CA" + secrets.token_hex(16),
        "From": caller,
        "To": to,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


def run_jobs(app) -> int:
    """Make jobs of the intake inbox (as the worker does), then run every queued job
    synchronously, as a burst worker; returns jobs run."""
    from ringtrail.calls.intake import move
    from ringtrail.storage.clients import get_queue

    with app.app_context():
        queue = get_queue()
        while move(queue):
            pass
        before = queue.count
        worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
        worker.work(burst=True)
        return before


def new_key(app, agency_id: int, client_id: int | None = None) -> str:
    """A fresh API key for the agency (or one of its clients)."""
    with app.test_request_context():
        from ringtrail.storage.sql import get_db

        _, raw = access.create_key(
            get_db(), cli_principal(), {"name": "test", "client_id": client_id}, agency_id
        )
    return raw


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def cli_env(app_config):
    """The environment a ``ringtrail`` command needs to act on the test's app: the same
    stores, and the same secret (sealed secrets open only with it)."""
    return {
        "RINGTRAIL_SECRET_KEY": app_config["SECRET_KEY"],
        "RINGTRAIL_REDIS_URL": app_config["REDIS_URL"],
        "RINGTRAIL_DATABASE_URL": app_config["DATABASE_URL"],
        "RINGTRAIL_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "RINGTRAIL_PUBLIC_URL": "http://127.0.0.1:5000",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_database_url(app) -> str:
    """A database of the same kind that is not there."""
    if app.config["DATABASE_URL"].startswith("postgresql"):
        return f"postgresql://postgres@127.0.0.1:{free_port()}/ringtrail"
    return f"sqlite:///{app.instance_path}/no-such-folder/ringtrail.sqlite3"


@contextmanager
def database_down(app):
    """Point the app's engine at a database that is not there, then back."""
    state = app.extensions["ringtrail"]
    engine, maker = state["engine"], state["sessionmaker"]
    dead = make_engine(dead_database_url(app), 1.0)
    engine.dispose()
    state["engine"] = dead
    maker.configure(bind=dead)
    try:
        yield
    finally:
        maker.configure(bind=engine)
        state["engine"] = engine
        dead.dispose()


def make_user(db, setup, role: str = "agency_admin", client=None) -> User:
    """A dashboard user of the setup's agency (of one client, given as a Client or its id,
    for the client roles)."""
    user = User(
        agency_id=setup.agency.id,
        client_id=getattr(client, "id", client),
        email=f"{secrets.token_hex(4)}@example.com",
        password_hash=hash_password("correct horse battery"),
        role=role,
    )
    db.add(user)
    db.commit()
    return user


def log_in(client, user: User) -> str:
    """Log the test client in as ``user`` (a login row on the server, its token in the
    cookie), without the form; returns the token."""
    from ringtrail.accounts import logins
    from ringtrail.storage.sql import new_session

    with client.application.app_context(), new_session() as db:
        token = logins.start(db, db.get(User, user.id))
        db.commit()
    with client.session_transaction() as session:
        session["sid"] = token
    return token


def add_call(
    db,
    setup,
    started: datetime,
    *,
    caller: str | None = "+12125550143",
    source: str = "google",
    medium: str = "cpc",
    answered: bool | None = True,
    talk: int | None = 60,
    confidence: str = "exact",
    visit: dict | None = None,
    pool=True,
    caller_hash: str | None = None,
) -> Call:
    """One call (and its visit snapshot when ``visit`` is given), committed."""
    snap = None
    if visit is not None:
        snap = VisitSnapshot(
            session_id=secrets.token_hex(8),
            site_id=setup.site.id,
            started_at=started - timedelta(minutes=5),
            source=source,
            medium=medium,
            **visit,
        )
        db.add(snap)
        db.flush()
    call = Call(
        call_sid="CA" + secrets.token_hex(16),
        client_id=setup.client.id,
        site_id=setup.site.id,
        pool_id=setup.pool.id if pool else None,
        tracking_number=setup.numbers[0],
        caller_number=caller,
        caller_hash=caller_hash,
        started_at=started,
        status="completed",
        answered=answered,
        talk_seconds=talk,
        confidence=confidence,
        source=source,
        medium=medium,
        visit_id=snap.id if snap else None,
    )
    db.add(call)
    db.commit()
    return call
