"""The snippet's served size after gzip -9, over random site keys, for the test sites.

    python bench/snippet_sizes.py [--keys 300]

North American sites with one and three business numbers, and the largest international
test site (US, UK and German numbers with a tracking number each), rendered as
``GET /s/KEY.js`` serves them, with site keys made as the admin API makes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ringtrail.tracking import snippet  # noqa: E402
from ringtrail.tracking.directory import PoolConfig, SiteConfig  # noqa: E402

API = "https://calls.example-agency.com"


def pool(pool_id: int, business: str, *numbers: str) -> PoolConfig:
    return PoolConfig(pool_id, business, 1800, 600, "lru", numbers, None)


def site(*pools: PoolConfig) -> SiteConfig:
    return SiteConfig(1, "", 1, ("https://www.example.com",), "none", False, pools)


SITES = {
    "North America, 1 number": site(pool(1, "+14155550100", "+16282000000")),
    "North America, 3 numbers": site(
        pool(1, "+14155550100", "+16282000000"), pool(2, "+12125550001"), pool(3, "+12125550002")
    ),
    "US, UK and German numbers": site(
        pool(1, "+14155550100", "+16282000000"),
        pool(2, "+442079460018", "+442079460999"),
        pool(3, "+493012345678", "+49301234567"),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=300)
    args = parser.parse_args()
    for name, config in SITES.items():
        sizes = []
        for _ in range(args.keys):
            keyed = dataclasses.replace(config, key=secrets.token_hex(10))
            sizes.append(len(gzip.compress(snippet.render(keyed, API)[0].encode(), 9)))
        print(f"{name}: {min(sizes)} to {max(sizes)} bytes after gzip -9 ({args.keys} keys)")


if __name__ == "__main__":
    main()
