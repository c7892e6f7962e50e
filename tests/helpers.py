"""Small helpers shared by the tests: fixtures' factories and a Twilio stand-in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from rq import SimpleWorker
from rq.serializers import JSONSerializer
from twilio.request_validator import RequestValidator

from ringtrail.storage.models import Agency, Client, Pool, Site, TrackingNumber

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
            twilio_auth_token=token,
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
        token=agency.twilio_auth_token,
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
    """Run every queued job synchronously, as a burst worker; returns jobs run."""
    from ringtrail.storage.clients import get_queue

    with app.app_context():
        queue = get_queue()
        before = queue.count
        worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
        worker.work(burst=True)
        return before
