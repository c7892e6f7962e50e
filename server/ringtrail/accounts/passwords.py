"""What makes a password acceptable, after NIST SP 800-63B revision 4 (2025).

- Length is what counts: at least 15 characters for a password that is the only factor,
  at least 8 for someone who also has a second factor; up to 1,000 (NIST asks that at
  least 64 be allowed). Spaces and every Unicode character are allowed.
- No composition rules (no "one digit, one symbol") and no forced rotation.
- Refused: passwords on a list of common and breached passwords, those that are such a
  password with digits or symbols around it (``password123456789``), one part repeated
  (``passwordpassword``), a run of keys in order (``123456789012345``), and the words of
  this context: the service's name and the person's e-mail.
- Unicode passwords are normalised to NFKC before they are checked and hashed, so the
  same password typed on another keyboard (composed or decomposed accents, full-width
  digits) is the same password.

The list ships with the code (``common-passwords.txt.gz``, beside this module): the
20,000 most common passwords from breach corpora compiled by Royce Williams
(https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce), lowercased and
deduplicated, as Django ships it in ``django/contrib/auth/common-passwords.txt.gz``
(BSD-3-Clause). It is read once per process and never sent anywhere.
"""

from __future__ import annotations

import functools
import gzip
import re
import unicodedata
from importlib import resources

from ringtrail.errors import Unprocessable

MIN_SINGLE_FACTOR = 15
MIN_WITH_SECOND_FACTOR = 8
MAX_LENGTH = 1000
SERVICE_WORDS = ("ringtrail",)

# Digits, punctuation and spaces people put around a common password to pass a check.
_PADDING = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_REPEATED = re.compile(r"(.+?)\1+", re.DOTALL)


def normalise(password: str) -> str:
    """The password as it is checked and hashed: Unicode NFKC."""
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common and breached passwords, lowercased."""
    data = resources.files("ringtrail.accounts").joinpath("common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def _in_order(text: str) -> bool:
    """Each character the one after (or before) the previous: ``123456…``, ``fedcba…``."""
    if len(text) < 3:
        return False
    pairs = list(zip(text, text[1:], strict=False))
    if {ord(b) - ord(a) for a, b in pairs} in ({1}, {-1}):
        return True
    # Digits go round: 7890123…
    return text.isdigit() and {(int(b) - int(a)) % 10 for a, b in pairs} in ({1}, {9})


def problem(password: str, *, second_factor: bool = False, email: str | None = None) -> str | None:
    """Why the password is not acceptable, or None."""
    password = normalise(password)
    minimum = MIN_WITH_SECOND_FACTOR if second_factor else MIN_SINGLE_FACTOR
    if len(password) < minimum:
        why = "with two-factor authentication" if second_factor else "without a second factor"
        return f"password must be at least {minimum} characters {why}"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    lowered = password.lower()
    bare = lowered.strip()
    common = common_passwords()
    if not bare:
        return "password must not be only spaces"
    if bare in common or _PADDING.sub("", bare) in common:
        return "password is too common: it appears in lists of breached passwords"
    if _REPEATED.fullmatch(bare) or _in_order(bare):
        return "password is too easy to guess: choose a few unrelated words"
    local = (email or "").strip().lower().partition("@")[0]
    context = [w for w in (*SERVICE_WORDS, local) if len(w) >= 4]
    if any(word in lowered for word in context):
        return "password must not contain the service's name or your e-mail"
    return None


def check(password: str, *, second_factor: bool = False, email: str | None = None) -> str:
    """The normalised password if acceptable; Unprocessable (422) with the reason otherwise."""
    reason = problem(password, second_factor=second_factor, email=email)
    if reason:
        raise Unprocessable(reason)
    return normalise(password)
