"""Webhook receivers on 127.0.0.1 that behave as real ones do, or fail as real ones do.

A :class:`Receiver` is a threaded HTTP server that verifies each request with the
``standardwebhooks`` library (``Webhook(secret).verify(body, headers)``), handles each
``webhook-id`` once (a repeat is answered 200 and not handled again, as the
specification asks receivers to do), and answers from a script of behaviours: ``200``,
``500``, ``410``, or ``"hang"`` (say nothing for ``hang_seconds``). It can go down (its
port refuses connections) and come back on the same port.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

from tests.helpers import free_port


class Receiver:
    def __init__(self, secret: str = "", *, answers: list | None = None, hang_seconds=3.0):
        self.secrets = [secret] if secret else []
        self.answers = list(answers or [])  # consumed one per request; then 200
        self.hang_seconds = hang_seconds
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # every request that arrived: id, verified
        self.handled: dict[str, dict] = {}  # webhook-id -> the event, handled once
        self.order: list[str] = []  # webhook-ids in the order they were handled
        self.bodies: dict[str, set[str]] = {}  # body -> every webhook-id it came with
        self.in_flight = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.up()

    # -- the server ---------------------------------------------------------------

    def up(self) -> None:
        """Listen (again) on the receiver's port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                receiver._handle(self)

            def log_message(self, *_args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # -- one request ----------------------------------------------------------------

    def _next_answer(self):
        with self.lock:
            return self.answers.pop(0) if self.answers else 200

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length).decode()
        headers = {k.lower(): v for k, v in request.headers.items()}  # names are case-blind
        message_id = headers.get("webhook-id", "")
        verified = self._verify(body, headers)
        answer = self._next_answer()
        with self.lock:
            self.requests.append(
                {"id": message_id, "verified": verified, "answer": answer, "headers": headers}
            )
        if answer == "hang":
            self.in_flight.set()
            time.sleep(self.hang_seconds)
            answer = 200
        if not verified:
            self._reply(request, 400)
            return
        if answer == 200:
            with self.lock:
                self.bodies.setdefault(body, set()).add(message_id)
                if message_id not in self.handled:  # a repeat is acknowledged, not redone
                    self.handled[message_id] = json.loads(body)
                    self.order.append(message_id)
        self._reply(request, answer)

    def _verify(self, body: str, headers: dict) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int) -> None:
        try:
            request.send_response(status)
            request.send_header("Content-Length", "2")
            request.end_headers()
            request.wfile.write(b"ok")
        except OSError:  # the sender gave up waiting
            pass

    # -- what arrived ---------------------------------------------------------------

    def events(self) -> list[tuple[str, int | None, str | None]]:
        """(type, call id, what changed) of each handled event, in the order handled."""
        out = []
        for message_id in self.order:
            event = self.handled[message_id]
            data = event["data"]
            call_id = data["call"]["id"] if "call" in data else None
            out.append((event["type"], call_id, data.get("changed")))
        return out

    def assert_each_event_once(self) -> None:
        """Each event body came with one webhook-id only, and each id was handled once."""
        for body, ids in self.bodies.items():
            assert len(ids) == 1, f"the same event came with several ids: {ids} {body[:80]}"
        assert len(self.order) == len(set(self.order))
        assert all(r["verified"] for r in self.requests), "a request failed verification"

    def close(self) -> None:
        self.down()
