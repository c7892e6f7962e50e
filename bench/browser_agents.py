"""A realistic set of distinct browser user agents for the session bench.

The real browser user agents of tests/data/user_agents.txt (bots left out: a crawler
gets no lease), then generated variants: real browser families (Chrome, Edge, Firefox,
Safari, Samsung Internet, Opera) with real version numbers and build strings, on real
operating-system strings (Windows, macOS, Linux, Android phones and tablets by model,
iPhone and iPad by iOS version). Each generated string has the shape its browser sends,
so the parser does the work a real visitor's user agent costs. Deterministic: the same
list every run.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WINDOWS = ["Windows NT 10.0; Win64; x64", "Windows NT 10.0; WOW64", "Windows NT 6.1; Win64; x64"]
MAC = ["Macintosh; Intel Mac OS X 10_15_7", "Macintosh; Intel Mac OS X 10_14_6"]
LINUX = ["X11; Linux x86_64", "X11; Ubuntu; Linux x86_64", "X11; Fedora; Linux x86_64"]
ANDROID_PHONES = [
    "SM-S918B",
    "SM-A546B",
    "SM-G991B",
    "SM-A135F",
    "Pixel 8",
    "Pixel 7a",
    "Pixel 6",
    "M2101K6G",
    "CPH2413",
    "moto g power (2022)",
    "RMX3630",
    "2201117TY",
    "V2250",
    "K",
]
ANDROID_TABLETS = ["SM-X710", "SM-T870", "SM-X200", "Lenovo TB-X606F", "Pixel Tablet"]
IOS = ["15_8", "16_6_1", "16_7_8", "17_2_1", "17_4_1", "17_5", "17_6_1", "18_0", "18_1_1"]
CHROME = [
    f"{major}.0.{build}.{patch}"
    for major, build in zip(range(110, 132), range(5481, 6900, 65), strict=True)
    for patch in (61, 118)
]
FIREFOX = [f"{v}.0" for v in range(102, 134)]
SAFARI = ["15.6.1", "16.5", "16.6", "17.0", "17.3.1", "17.4.1", "17.5", "18.0", "18.1"]
SAMSUNG = ["21.0", "22.0", "23.0", "24.0", "25.0"]
OPERA = ["106.0.0.0", "108.0.0.0", "110.0.0.0", "112.0.0.0"]
KHTML = "AppleWebKit/537.36 (KHTML, like Gecko)"


def table() -> list[str]:
    """The real browser user agents of tests/data/user_agents.txt (no bots)."""
    from ringtrail.tracking.devices import classify_agent

    lines = (ROOT / "tests" / "data" / "user_agents.txt").read_text().splitlines()
    uas = [line for line in lines if line.strip() and not line.startswith("#")]
    return [ua for ua in uas if not classify_agent(ua).bot]


def generated() -> list[str]:
    """Browser × version × system combinations, in the shapes those browsers send."""
    out: list[str] = []
    desktops = WINDOWS + MAC + LINUX
    for system, version in itertools.product(desktops, CHROME):
        out.append(f"Mozilla/5.0 ({system}) {KHTML} Chrome/{version} Safari/537.36")
    for system, version in itertools.product(WINDOWS + MAC, CHROME[::3]):
        out.append(f"Mozilla/5.0 ({system}) {KHTML} Chrome/{version} Safari/537.36 Edg/{version}")
    for system, version in itertools.product(WINDOWS + LINUX, FIREFOX):
        out.append(f"Mozilla/5.0 ({system}; rv:{version}) Gecko/20100101 Firefox/{version}")
    for system, version in itertools.product(MAC, FIREFOX):
        mac = system.replace("_", ".").replace("Macintosh; ", "Macintosh; ")
        out.append(f"Mozilla/5.0 ({mac}; rv:{version}) Gecko/20100101 Firefox/{version}")
    for system, version in itertools.product(MAC, SAFARI):
        out.append(
            f"Mozilla/5.0 ({system}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            f"Version/{version} Safari/605.1.15"
        )
    for ios, device in itertools.product(IOS, ["iPhone; CPU iPhone OS", "iPad; CPU OS"]):
        dotted = ios.replace("_", ".")
        out.append(
            f"Mozilla/5.0 ({device} {ios} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{dotted} Mobile/15E148 Safari/604.1"
        )
        for version in CHROME[::4]:
            out.append(
                f"Mozilla/5.0 ({device} {ios} like Mac OS X) AppleWebKit/605.1.15 "
                f"(KHTML, like Gecko) CriOS/{version} Mobile/15E148 Safari/604.1"
            )
    for android, model, version in itertools.product(range(10, 15), ANDROID_PHONES, CHROME[::2]):
        out.append(
            f"Mozilla/5.0 (Linux; Android {android}; {model}) {KHTML} "
            f"Chrome/{version} Mobile Safari/537.36"
        )
    for android, model, version in itertools.product(range(11, 15), ANDROID_TABLETS, CHROME[::4]):
        out.append(
            f"Mozilla/5.0 (Linux; Android {android}; {model}) {KHTML} "
            f"Chrome/{version} Safari/537.36"
        )
    for android, model, samsung in itertools.product(range(12, 15), ANDROID_PHONES[:4], SAMSUNG):
        out.append(
            f"Mozilla/5.0 (Linux; Android {android}; SAMSUNG {model}) {KHTML} "
            f"SamsungBrowser/{samsung} Chrome/121.0.0.0 Mobile Safari/537.36"
        )
    for android, version in itertools.product(range(10, 15), FIREFOX):
        out.append(
            f"Mozilla/5.0 (Android {android}; Mobile; rv:{version}) Gecko/{version} "
            f"Firefox/{version}"
        )
    for system, opera in itertools.product(WINDOWS + MAC, OPERA):
        out.append(
            f"Mozilla/5.0 ({system}) {KHTML} Chrome/{opera.replace('.0.0.0', '')}.0.0.0 "
            f"Safari/537.36 OPR/{opera}"
        )
    return out


def realistic(count: int = 3000, seed: int = 17) -> list[str]:
    """``count`` distinct browser user agents: the real table first, then a seeded sample
    of the generated ones, shuffled."""
    real = table()
    seen = set(real)
    extra = [ua for ua in dict.fromkeys(generated()) if ua not in seen]
    rng = random.Random(seed)
    picked = real + rng.sample(extra, min(len(extra), max(0, count - len(real))))
    rng.shuffle(picked)
    return picked


if __name__ == "__main__":
    uas = realistic()
    print(f"{len(uas)} distinct user agents ({len(table())} real, {len(generated())} made)")
