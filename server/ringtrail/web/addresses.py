"""The address a request came from, for per-client limits (hashed with a key, never
stored): behind ``RINGTRAIL_TRUSTED_PROXIES`` proxies, the one the nearest of them saw,
read from the right of ``X-Forwarded-For``; with none, the peer's. A client can forge the
header, so it is believed only as far as the proxies that are known to append to it."""

from __future__ import annotations

from flask import current_app, request


def client_address() -> str | None:
    hops = int(current_app.config["TRUSTED_PROXIES"])
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
    if hops > 0 and len(forwarded) >= hops and forwarded[-hops]:
        return forwarded[-hops][:64]
    return request.remote_addr
