"""The order of the snippet's functions that compresses smallest, found by a local search.

    python bench/snippet_order.py [--steps 400] [--seed 1] [--write]

Function declarations are hoisted, so their order in ``snippet/ringtrail.js`` changes
nothing but the bytes gzip makes of the served file (and the short names the minifier
gives). Each step moves or swaps two functions (each with its comment) and keeps the
change when the international template gets smaller and the North American one no larger
than at the start. Prints both template sizes after gzip -9 before and after; with
``--write``, rewrites the source in the order found.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from ringtrail.tracking import snippet  # noqa: E402

SOURCE = ROOT / "snippet" / "ringtrail.js"
# The functions stand between the variables (the last one an optional block) and the
# start-up code; each is a paragraph: its comment and body, with no blank line inside.
FIRST = "/*FI*/\n\n"
LAST = "\n  safe(function () {"


def split(source: str) -> tuple[str, list[str], str]:
    start = source.index(FIRST, source.index("var cookieDomain")) + len(FIRST) - 1
    end = source.index(LAST)
    return source[:start], source[start:end].strip("\n").split("\n\n"), source[end:]


def join(head: str, chunks: list[str], tail: str) -> str:
    return head + "\n" + "\n\n".join(chunks) + "\n" + tail


def gzipped(source: str, features: str) -> int:
    text = snippet.with_features(source, frozenset({features}))
    text = snippet.CONFIG.sub(f'"{snippet.SENTINEL}"', text, count=1)
    return len(gzip.compress(snippet.minify(text).encode(), 9))


def sizes(source: str) -> tuple[int, int]:
    return gzipped(source, "intl"), gzipped(source, "nanp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    source = SOURCE.read_text(encoding="utf-8")
    head, chunks, tail = split(source)
    assert join(head, chunks, tail) == source, "the functions are not paragraphs"
    start = best = sizes(source)
    rng = random.Random(args.seed)
    for _ in range(args.steps):
        trial = chunks[:]
        if rng.random() < 0.5:
            i, j = rng.sample(range(len(trial)), 2)
            trial[i], trial[j] = trial[j], trial[i]
        else:
            moved = trial.pop(rng.randrange(len(trial)))
            trial.insert(rng.randrange(len(trial) + 1), moved)
        found = sizes(join(head, trial, tail))
        if found[0] < best[0] and found[1] <= start[1]:
            chunks, best = trial, found
    print(f"international template: {start[0]} -> {best[0]} bytes after gzip -9")
    print(f"North American template: {start[1]} -> {best[1]} bytes after gzip -9")
    if args.write and best != start:
        SOURCE.write_text(join(head, chunks, tail), encoding="utf-8")
        print(f"wrote {SOURCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
