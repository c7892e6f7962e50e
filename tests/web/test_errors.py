"""Every refusal has one HTTP status, and bad input is a 4xx with a reason, never a 500."""

from __future__ import annotations

import pytest

from ringtrail import errors
from ringtrail.telephony.carrier import CarrierError
from ringtrail.telephony.twilio_rest import CarrierRateLimited, CarrierRefused, NotConnected
from ringtrail.web.errors import STATUS, status_of
from tests.helpers import log_in, make_site, make_user


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_kind_of_refusal_has_a_status_in_the_4xx_or_5xx():
    for cls in [errors.RingtrailError, *_subclasses(errors.RingtrailError)]:
        if cls is errors.RateLimited:
            exc = cls(5)
        elif cls is CarrierError or issubclass(cls, CarrierError):
            exc = cls("x", 0)
        else:
            exc = cls("x")
        assert 400 <= status_of(exc) < 600, cls
    assert set(STATUS) >= {errors.NotFound, errors.Forbidden, errors.Conflict, errors.Unavailable}


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.Invalid(), 400),
        (errors.Unprocessable(), 422),
        (errors.TooLarge(), 413),
        (errors.Unauthenticated(), 401),
        (errors.Forbidden(), 403),
        (errors.NotFound(), 404),
        (errors.Conflict(), 409),
        (errors.RateLimited(3), 429),
        (CarrierError("down", 503), 502),
        (CarrierRateLimited(4), 502),
        (CarrierRefused("not for sale", 400), 422),
        (NotConnected("connect it first"), 409),
        (errors.Unavailable(), 503),
    ],
)
def test_statuses(error, status):
    assert status_of(error) == status


def test_apis_answer_json_and_pages_answer_a_page(client, db):
    setup = make_site(db)
    api = client.post("/v1/sessions", data="{}", content_type="text/plain")
    assert api.status_code == 400 and api.get_json() == {"error": "site is required"}
    log_in(client, make_user(db, setup))
    page = client.get("/dashboard/clients/999999")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "no such client" in page.get_data(as_text=True)
    bad = client.get("/dashboard/calls?days=abc")
    assert bad.status_code == 400 and "Cannot show this report" in bad.get_data(as_text=True)
