"""A stand-in for the public API that misbehaves on demand, on 127.0.0.1.

Pages are served by the real app; the snippet is pointed here with ``data-api``. Modes:
``slow`` (answers after 10 s, unless the client hangs up first, which is timed),
``500``, ``garbage`` (``body`` is sent as is), ``unknown`` (404 unknown site key) and
``ok`` (a valid answer leasing ``number``). Every mode but ``nocors`` grants CORS, so
the snippet sees the bad answer itself rather than a CORS failure.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandIn:
    """The server and what it saw."""

    def __init__(self):
        self.mode = "ok"
        self.body = b""
        self.number = "+16285550123"
        self.requests: list[dict] = []
        self.hangups: list[float] = []  # seconds from request to the client hanging up
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self, mode: str = "ok", body: bytes = b"") -> None:
        self.mode, self.body = mode, body
        self.requests.clear()
        self.hangups.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_OPTIONS(self):  # noqa: N802 (the snippet never preflights; say so loudly)
                outer.requests.append({"method": "OPTIONS", "path": self.path})
                self._send(405, b"")

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                outer.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": raw.decode(errors="replace"),
                    }
                )
                mode = outer.mode
                if mode == "slow":
                    self._hold(10.0)
                    self._send(200, outer.answer())
                elif mode == "500":
                    self._send(500, b'{"error": "internal"}')
                elif mode == "garbage":
                    self._send(200, outer.body, ctype="text/html")
                elif mode == "unknown":
                    self._send(404, b'{"error": "unknown site key"}')
                elif mode == "nocors":
                    self._send(200, outer.answer(), cors=False)
                else:
                    self._send(200, outer.answer())

            def _hold(self, seconds: float) -> None:
                """Wait for the client to hang up, and time it; give up after ``seconds``."""
                start = time.monotonic()
                conn = self.connection
                while time.monotonic() - start < seconds:
                    readable, _, _ = select.select([conn], [], [], 0.02)
                    if readable:
                        try:
                            gone = conn.recv(1, socket.MSG_PEEK) == b""
                        except OSError:
                            gone = True
                        if gone:
                            outer.hangups.append(time.monotonic() - start)
                            return

            def _send(self, status: int, body: bytes, ctype="application/json", cors=True):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    if cors:
                        self.send_header("Access-Control-Allow-Origin", "*")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client hung up: that is what it may do

        return Handler

    def answer(self) -> bytes:
        """A well-formed answer that would swap every business number to ``number``."""
        return json.dumps(
            {
                "session": "standin-session-0000000001",
                "numbers": {
                    "+14155550100": {"e164": self.number, "display": "(628) 555-0123"},
                },
                "ttl": 600,
            }
        ).encode()
