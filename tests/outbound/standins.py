"""Local stand-ins that speak the real protocols: an SMTP server (aiosmtpd) and a Slack
incoming webhook (HTTP), both on 127.0.0.1."""

from __future__ import annotations

import email
import json
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tests.helpers import free_port


@dataclass
class Received:
    """One message the SMTP stand-in accepted."""

    sender: str
    recipients: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_payload(decode=True).decode()


class _Handler:
    def __init__(self, inbox: list[Received]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.inbox.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.original_content),
            )
        )
        return "250 OK"


class SmtpServer:
    """A real SMTP server on 127.0.0.1:``port``, started and stopped at will (the same
    port each time, so a URL set while it is down reaches it once it is up)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.inbox: list[Received] = []
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self.controller = Controller(_Handler(self.inbox), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class SlackState:
    """What the Slack stand-in received, and the status it answers with."""

    posts: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200
    url: str = ""


def start_slack() -> tuple[SlackState, ThreadingHTTPServer]:
    """A Slack incoming-webhook stand-in: POST JSON {"text": ...}, answers "ok"."""
    state = SlackState()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if state.status == 200:
                assert self.headers.get("Content-Type") == "application/json"
                state.posts.append(json.loads(raw))
                state.paths.append(self.path)
            body = b"ok" if state.status == 200 else b"no_service"
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret"
    return state, server
