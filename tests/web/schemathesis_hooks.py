"""What the schemathesis run in ``test_openapi.py`` loads (``SCHEMATHESIS_HOOKS``): a
strategy for the document's one custom format, ``phone``.

A phone number's validity is the numbering plans' business, which no pattern can declare;
the document says ``format: phone`` and this strategy draws real numbers, written in the
ways people write them, so that schemathesis can tell a valid request from an invalid one.
"""

from __future__ import annotations

import phonenumbers
import schemathesis
from hypothesis import strategies as st

FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
)


def _written(number: int, style: int) -> str:
    parsed = phonenumbers.parse(f"+1628{number:07d}")
    return phonenumbers.format_number(parsed, style)


def _valid(text: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(text, "US"))


# San Francisco's 628 area code, exchanges 200 to 999: millions of numbers, so that a
# number the run adds to a pool is seldom drawn again.
PHONES = st.builds(_written, st.integers(2_000_000, 9_999_999), st.sampled_from(FORMATS)).filter(
    _valid
)

schemathesis.openapi.format("phone", PHONES)
