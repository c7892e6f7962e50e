"""Where a voice webhook's time goes, in process: cProfile over the Flask test client.

    python bench/voice_profile.py [--requests 3000] [--top 40] [--rounds 3]

Seeds a site whose pool has 1,000 numbers on an embedded Redis and SQLite, with the
queue on an embedded Redis of its own that fsyncs every write (as the hot-path bench
and docker-compose.yml run it: a stashed event is committed, nothing is spooled), then
sends the signed ``POST /telephony/twilio/voice`` the hot-path bench sends, and the same
call to the minimal voice endpoint (``bench/minimal.py``: one HMAC, one RPUSH, fixed
TwiML) through its own test client, one after the other, ``--rounds`` times.

Prints, per endpoint, this process's CPU time per request (``time.process_time``: the
Redis servers' own time is not in it, the client's is), the ratio of the two (min /
median / max over the rounds), and the functions with the most CPU time in Ringtrail's
webhook, cumulative and their own (a cProfile timed by ``time.process_time``, so the
waits for Redis's fsync are left out). The test client's own work (building the WSGI
environ, reading the response) is in both; figures from a busy machine are only good
for proportions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PUBLIC = "http://127.0.0.1"
FORWARD_TO = "+14155550100"


def apps(tmp: str):
    """Ringtrail (as under gunicorn: a watcher thread), the minimal voice app, and the
    signed request of each."""
    import minimal

    from ringtrail import create_app
    from ringtrail.storage.clients import start_embedded_redis
    from ringtrail.storage.sql import get_db, upgrade
    from ringtrail.tracking.pool import get_pools
    from tests.helpers import make_site, tracking_numbers

    keep: dict = {}
    url = start_embedded_redis(tmp, keep)
    queue = start_embedded_redis(os.path.join(tmp, "queue"), keep | {}, fsync="always")
    keep["queue"] = queue
    app = create_app(
        {
            "REDIS_URL": url,
            "QUEUE_REDIS_URL": queue,
            "DATABASE_URL": f"sqlite:///{tmp}/profile.sqlite3",
            "INSTANCE_PATH": tmp,
            "PUBLIC_URL": PUBLIC,
            "CACHE_SECONDS": 30,
        }
    )
    with app.app_context():
        upgrade()
        setup = make_site(get_db(), numbers=tracking_numbers(1_000), business=FORWARD_TO)
        get_pools().sync(setup.pool.id, setup.numbers)
    params = {  # what bench/hotpaths.py sends
        "AccountSid": setup.account_sid,
        "CallSid": "CA" + "0" * 32,
        "From": "+12125550143",
        "To": setup.numbers[0],
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    path = "/telephony/twilio/voice"
    os.environ.update(
        BENCH_REDIS_URL=url,
        BENCH_QUEUE_REDIS_URL=queue,
        BENCH_TWILIO_TOKEN=setup.token,
        BENCH_PUBLIC_URL=PUBLIC,
        BENCH_FORWARD_TO=FORWARD_TO,
    )
    base = minimal.create_app()
    form = urllib.parse.urlencode(params)
    content = "application/x-www-form-urlencoded"
    ours = (path, form, content, minimal.signature(setup.token, PUBLIC + path, params))
    theirs = ("/voice", form, content, minimal.signature(setup.token, PUBLIC + "/voice", params))
    return (app, ours), (base, theirs), keep


def run(client, request, count: int) -> float:
    """CPU seconds of this process for ``count`` requests."""
    path, form, content, signature = request
    headers = {"X-Twilio-Signature": signature}
    started = time.process_time()
    for _ in range(count):
        res = client.post(path, data=form, content_type=content, headers=headers)
        assert res.status_code == 200, res.data
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dump", help="also write the profile here (pstats format)")
    args = parser.parse_args()
    (app, ours), (base, theirs), _keep = apps(tempfile.mkdtemp(prefix="ringtrail-voice-"))
    client, base_client = app.test_client(), base.test_client()
    res = client.post(ours[0], data=ours[1], content_type=ours[2])  # unsigned: 403
    assert res.status_code == 403, res.data
    run(client, ours, 200)  # warm: the directory, the scripts, the caches
    run(base_client, theirs, 200)
    n = args.requests
    ratios, mine, base_us = [], [], []
    for _ in range(args.rounds):
        ringtrail_us = run(client, ours, n) / n * 1e6
        minimal_us = run(base_client, theirs, n) / n * 1e6
        mine.append(ringtrail_us)
        base_us.append(minimal_us)
        ratios.append(ringtrail_us / minimal_us)
    profiler = cProfile.Profile(time.process_time)  # CPU, not the waits on Redis's fsync
    profiler.enable()
    profiled = run(client, ours, n)
    profiler.disable()
    if args.dump:
        profiler.dump_stats(args.dump)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top // 2)

    def spread(values: list[float], digits: int = 0) -> str:
        low, mid, high = min(values), statistics.median(values), max(values)
        return " / ".join(f"{v:.{digits}f}" for v in (low, mid, high))

    print(f"{n} voice webhooks a round, {args.rounds} rounds (min / median / max)")
    print(f"ringtrail CPU per call: {spread(mine)} us")
    print(f"minimal voice CPU per call: {spread(base_us)} us")
    print(f"ratio: {spread(ratios, 2)}")
    print(f"ringtrail under cProfile: {profiled / n * 1e6:.0f} us per call")
    print(out.getvalue())


if __name__ == "__main__":
    main()
