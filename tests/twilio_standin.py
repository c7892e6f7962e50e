"""A local stand-in for Twilio's REST API (recordings and calls), on 127.0.0.1.

It checks basic auth (AccountSid:AuthToken), answers 204 to DELETE, serves audio on GET
of .mp3/.wav, and can be told to fail or to redirect media to another host. Tests get it
through the ``stand_in`` fixture in conftest.py, which also points the app at it.
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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

    def add_recording(self, account: str, audio: bytes = AUDIO) -> str:
        sid = recording_sid()
        self.recordings[sid] = (account, audio)
        return sid


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
            return user if state.accounts.get(user) == token else None

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
            account = self._account()
            state.requests.append((self.command, self.path, account is not None))
            if state.fail_with:
                return self._answer(state.fail_with, b'{"message": "down"}')
            if account is None:
                return self._answer(401, b'{"code": 20003, "message": "Authenticate"}')
            prefix = f"/2010-04-01/Accounts/{account}/"
            if not self.path.startswith(prefix):
                return self._answer(404)
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

        do_GET = do_DELETE = _route

    return Handler


def start_stand_in() -> tuple[StandIn, ThreadingHTTPServer]:
    """A Twilio stand-in on 127.0.0.1, on a free port."""
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return state, server
