"""A local stand-in for Twilio's REST API, on 127.0.0.1.

It checks basic auth (AccountSid:AuthToken, or an API key SK…:secret of the account),
answers 204 to DELETE, serves audio on GET of .mp3/.wav, and can be told to fail or to
redirect media to another host. The account, available numbers and incoming numbers
speak Twilio's 2010-04-01 protocol (``tests/standins/twilio_rest.py``), and injected
:class:`Failure` s answer 401, 404, 429 with Retry-After, 500, or nothing at all. Tests
get it through the ``stand_in`` fixture in conftest.py, which also points the app at it.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.standins import twilio_rest
from tests.standins.twilio_rest import Failure, available

__all__ = ["AUDIO", "Failure", "StandIn", "available", "start_stand_in"]

AUDIO = b"ID3" + bytes(range(256)) * 300  # 76 KiB: more than one streamed chunk


def recording_sid() -> str:
    return "RE" + secrets.token_hex(16)


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


@dataclass
class StandIn:
    """What the stand-in knows and what it was asked.

    ``accounts`` maps AccountSid → auth token; ``recordings`` and ``calls`` map a sid to
    its account (and a recording to its audio). ``requests`` logs (method, path, authed).
    """

    url: str = ""
    accounts: dict[str, str] = field(default_factory=dict)
    recordings: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    calls: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)
    fail_with: int | None = None  # answer every request with this status
    media_host: str | None = None  # redirect audio GETs to this base URL (no auth)
    media_auth_seen: list[str | None] = field(default_factory=list)
    # The REST protocol for numbers: API keys (SK sid → (account, secret)), numbers for
    # sale (see ``twilio_rest.available``), numbers owned (PN sid → Twilio's JSON), the
    # accounts' names and statuses, and a log of ("buy"|"update"|"release", number).
    api_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    available: list[dict] = field(default_factory=list)
    numbers: dict[str, dict] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    hang_seconds: float = 3.0  # how long a Failure with status 0 keeps the caller waiting
    bodies: list[bytes] = field(default_factory=list)  # every request body, for greps
    on_buy: object = None  # called with the number after each purchase (a racing writer)

    def add_recording(self, account: str, audio: bytes = AUDIO) -> str:
        sid = recording_sid()
        self.recordings[sid] = (account, audio)
        return sid

    def add_account(self, token: str | None = None) -> tuple[str, str]:
        """A new account: (AccountSid, auth token)."""
        sid, token = "AC" + secrets.token_hex(16), token or secrets.token_hex(16)
        self.accounts[sid] = token
        return sid, token

    def add_api_key(self, account: str) -> tuple[str, str]:
        """A new API key of ``account``: (SK sid, secret)."""
        sid, secret = "SK" + secrets.token_hex(16), secrets.token_urlsafe(24)
        self.api_keys[sid] = (account, secret)
        return sid, secret

    def offer(self, *numbers: str, region: str = "CA", locality: str = "San Francisco"):
        """Put numbers up for sale (toll-free when they start +18xx)."""
        for number in numbers:
            toll_free = number[2:5] in twilio_rest.TOLL_FREE
            self.available.append(available(number, region, locality, toll_free))

    def own(self, account: str, number: str, **fields: str) -> str:
        """A number the account already owns (bought outside Ringtrail); its PN sid."""
        sid = "PN" + secrets.token_hex(16)
        self.numbers[sid] = twilio_rest._incoming(account, sid, number) | fields
        return sid

    def owned(self, account: str) -> dict[str, dict]:
        """The account's numbers, by phone number."""
        return {n["phone_number"]: n for n in self.numbers.values() if n["account_sid"] == account}


FAILURE_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


def _handler(state: StandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _account(self) -> str | None:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return None
            try:
                user, _, token = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None
            if user.startswith("SK"):
                owner, secret = state.api_keys.get(user, (None, None))
                return owner if secret == token else None
            return user if state.accounts.get(user) == token else None

        def _fail(self) -> bool:
            for failure in state.failures:
                if failure.matches(self.command, self.path):
                    if failure.status == 0:
                        time.sleep(state.hang_seconds)
                        self.close_connection = True
                        return True
                    status, body = twilio_rest.error(
                        failure.status, FAILURE_CODES.get(failure.status, 20500), "injected"
                    )
                    self.send_response(status)
                    if failure.retry_after is not None:
                        self.send_header("Retry-After", str(failure.retry_after))
                    data = twilio_rest.dumps(body)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return True
            return False

        def _answer(self, status: int, body: bytes = b"", ctype: str = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def _route(self):
            if self.path.startswith("/media/"):
                state.media_auth_seen.append(self.headers.get("Authorization"))
                sid = self.path.removeprefix("/media/")
                if sid in state.recordings:
                    return self._answer(200, state.recordings[sid][1], "audio/mpeg")
                return self._answer(404)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.bodies.append(body)
            account = self._account()
            state.requests.append((self.command, self.path, account is not None))
            if state.fail_with:
                return self._answer(state.fail_with, b'{"message": "down"}')
            if self._fail():
                return None
            if account is None:
                status, answer = twilio_rest.error(401, 20003, "Authenticate")
                return self._answer(status, twilio_rest.dumps(answer))
            prefix = f"/2010-04-01/Accounts/{account}/"
            kind = self.path.removeprefix(prefix).partition("/")[0]
            if not self.path.startswith(prefix) or kind not in ("Recordings", "Calls"):
                status, answer = twilio_rest.route(state, self.command, self.path, account, body)
                return self._answer(status, twilio_rest.dumps(answer))
            kind, _, name = self.path.removeprefix(prefix).partition("/")
            sid, _, ext = name.partition(".")
            store = state.recordings if kind == "Recordings" else state.calls
            owner = store.get(sid)
            owner = owner[0] if isinstance(owner, tuple) else owner
            if owner != account:
                return self._answer(404, b'{"code": 20404}')
            if self.command == "DELETE" and ext == "json":
                del store[sid]
                return self._answer(204)
            if self.command == "GET" and kind == "Recordings" and ext in ("mp3", "wav"):
                if state.media_host:
                    self.send_response(302)
                    self.send_header("Location", f"{state.media_host}/media/{sid}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                ctype = "audio/mpeg" if ext == "mp3" else "audio/wav"
                return self._answer(200, state.recordings[sid][1], ctype)
            return self._answer(405)

        do_GET = do_DELETE = do_POST = _route

    return Handler


def start_stand_in() -> tuple[StandIn, ThreadingHTTPServer]:
    """A Twilio stand-in on 127.0.0.1, on a free port."""
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return state, server
