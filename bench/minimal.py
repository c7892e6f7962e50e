"""The minimal-work baselines: what a session start and a voice webhook cannot do without.

Served by gunicorn with the same settings as Ringtrail (bench/hotpaths.py), so that a
ratio against them shows what Ringtrail does beyond the necessary work:

- ``POST /sessions`` parses the text/plain JSON body, makes ONE EVALSHA of a small lease
  script (take the least-recently-used number, rotate it, write the session hash with a
  TTL) and answers JSON;
- ``POST /voice`` checks the Twilio signature with one HMAC-SHA1 (the documented
  algorithm: the URL, then each parameter's name and value in name order), pushes the
  call to a Redis list, and answers a fixed TwiML document.

Settings from the environment: ``BENCH_REDIS_URL``, ``BENCH_QUEUE_REDIS_URL`` (where
calls are pushed; default ``BENCH_REDIS_URL``), ``BENCH_TWILIO_TOKEN``,
``BENCH_PUBLIC_URL`` (the URL Twilio signs, without the path), ``BENCH_FORWARD_TO``.
Its keys are ``bench:minimal:*``; :func:`seed` loads the numbers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Sequence

import redis
from flask import Flask, Response, jsonify, request

FREE = "bench:minimal:free"  # ZSET number -> when it was last handed out
QUEUE = "bench:minimal:calls"  # LIST of call events
LEASE_SECONDS = 1800
LEASE_LUA = """
local number = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not number then return false end
local now = redis.call('TIME')[1]
redis.call('ZADD', KEYS[1], now, number)
redis.call('HSET', KEYS[2], 'number', number, 'site', ARGV[1], 'at', now)
redis.call('EXPIRE', KEYS[2], ARGV[2])
return number
"""


def seed(client: redis.Redis, numbers: Sequence[str]) -> None:
    """Load the pool of the minimal session endpoint (all free, never used)."""
    client.delete(FREE, QUEUE)
    for start in range(0, len(numbers), 10_000):
        client.zadd(FREE, {n: 0 for n in numbers[start : start + 10_000]})


def signature(token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio computes it for a form POST to ``url``."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def create_app() -> Flask:
    app = Flask(__name__)
    client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"], decode_responses=True)
    queue_url = os.environ.get("BENCH_QUEUE_REDIS_URL") or os.environ["BENCH_REDIS_URL"]
    queue = redis.Redis.from_url(queue_url, decode_responses=True)
    lease = client.register_script(LEASE_LUA)
    token = os.environ.get("BENCH_TWILIO_TOKEN", "")
    public_url = os.environ.get("BENCH_PUBLIC_URL", "").rstrip("/")
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial>'
        f"{os.environ.get('BENCH_FORWARD_TO', '+12125550100')}</Dial></Response>"
    )

    @app.post("/sessions")
    def sessions():
        body = json.loads(request.get_data())
        session = secrets.token_hex(16)
        number = lease(
            keys=[FREE, f"bench:minimal:session:{session}"],
            args=[str(body.get("site", ""))[:40], LEASE_SECONDS],
        )
        return jsonify(session=session, number=number, ttl=LEASE_SECONDS)

    @app.post("/voice")
    def voice():
        params = request.form.to_dict()
        url = (public_url or request.host_url.rstrip("/")) + request.path
        given = request.headers.get("X-Twilio-Signature", "")
        if not hmac.compare_digest(signature(token, url, params), given):
            return Response("bad signature", status=403, mimetype="text/plain")
        queue.rpush(QUEUE, json.dumps(params))
        return Response(twiml, mimetype="text/xml")

    return app
