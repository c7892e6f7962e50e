"""The carrier adapter against a local stand-in that speaks Twilio's REST protocol."""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server import carrier
from server.models import Agency

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


@pytest.fixture
def stand_in():
    state, server = start_stand_in()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(app_config, stand_in):
    return {**app_config, "TWILIO_API_URL": stand_in.url}


@pytest.fixture
def agency(db, stand_in):
    a = Agency(name="A", twilio_account_sid="AC" + secrets.token_hex(16))
    a.twilio_auth_token = secrets.token_hex(16)
    db.add(a)
    db.commit()
    stand_in.accounts[a.twilio_account_sid] = a.twilio_auth_token
    return a


def test_delete_recording_sends_basic_auth_and_treats_gone_as_done(db, stand_in, agency):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    assert carrier.delete_recording(agency, sid) is True
    assert sid not in stand_in.recordings
    method, path, authed = stand_in.requests[-1]
    assert (method, authed) == ("DELETE", True)
    assert path == f"/2010-04-01/Accounts/{agency.twilio_account_sid}/Recordings/{sid}.json"
    assert carrier.delete_recording(agency, sid) is False  # 404: already gone


def test_a_recording_url_is_reduced_to_its_sid_under_the_configured_base(db, stand_in, agency):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    # A URL from a webhook names some other host: only its sid is used.
    url = f"https://evil.example/2010-04-01/Accounts/{agency.twilio_account_sid}/Recordings/{sid}"
    assert carrier.delete_recording(agency, url) is True
    assert stand_in.requests[-1][1].endswith(f"/Recordings/{sid}.json")
    with pytest.raises(carrier.CarrierError):
        carrier.delete_recording(agency, "https://evil.example/file.mp3")


def test_wrong_credentials_and_outages_raise_carrier_error(db, stand_in, agency):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    stand_in.accounts[agency.twilio_account_sid] = "another token"
    with pytest.raises(carrier.CarrierError) as refused:
        carrier.delete_recording(agency, sid)
    assert refused.value.status == 401
    stand_in.accounts[agency.twilio_account_sid] = agency.twilio_auth_token
    stand_in.fail_with = 503
    with pytest.raises(carrier.CarrierError) as down:
        carrier.fetch_recording(agency, sid)
    assert down.value.status == 503
    assert sid in stand_in.recordings


def test_an_agency_without_twilio_credentials_cannot_ask(db, stand_in):
    bare = Agency(name="no twilio")
    db.add(bare)
    db.commit()
    with pytest.raises(carrier.NoCredentials):
        carrier.delete_recording(bare, recording_sid())
    assert stand_in.requests == []


def test_an_unreachable_carrier_is_a_carrier_error(app, db, agency):
    app.config["TWILIO_API_URL"] = "http://127.0.0.1:9"  # discard: nothing listens
    with pytest.raises(carrier.CarrierError) as exc:
        carrier.delete_recording(agency, recording_sid())
    assert exc.value.status == 0


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_fetch_streams_the_audio_in_chunks(db, stand_in, agency, fmt):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    media = carrier.fetch_recording(agency, sid, fmt)
    assert media.content_type == ("audio/mpeg" if fmt == "mp3" else "audio/wav")
    assert media.length == len(AUDIO)
    chunks = list(media.chunks())
    assert len(chunks) >= 2 and b"".join(chunks) == AUDIO
    assert stand_in.requests[-1] == (
        "GET",
        f"/2010-04-01/Accounts/{agency.twilio_account_sid}/Recordings/{sid}.{fmt}",
        True,
    )


def test_a_redirect_to_the_media_store_does_not_carry_the_credentials(db, stand_in, agency):
    sid = stand_in.add_recording(agency.twilio_account_sid)
    # "localhost" is another host than "127.0.0.1" to the client, though the same server.
    stand_in.media_host = stand_in.url.replace("127.0.0.1", "localhost")
    assert b"".join(carrier.fetch_recording(agency, sid).chunks()) == AUDIO
    assert stand_in.media_auth_seen == [None]


def test_delete_call_removes_the_carriers_call_log(db, stand_in, agency):
    sid = call_sid()
    stand_in.calls[sid] = agency.twilio_account_sid
    assert carrier.delete_call(agency, sid) is True
    assert sid not in stand_in.calls
    assert carrier.delete_call(agency, sid) is False
    with pytest.raises(carrier.CarrierError):
        carrier.delete_call(agency, "../Recordings/x")
