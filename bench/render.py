"""Benchmark: the cost of rendering one update's light Markdown, on hostile and ordinary 10 KB texts.

Run as ``python -m bench.render`` (``make bench-render``); prints the best of N runs per text in ms. A figure,
never a test: docs/performance.md records it with the date.
"""

from __future__ import annotations

import argparse
import time

from server.render import render_inline

SIZE = 10_000

#: Texts that made markdown-it-py (and so every page view) slow: unclosed brackets, delimiter runs, nesting.
TEXTS: dict[str, str] = {
    "9,000 [ then text": "[" * 9_000 + "x" * 1_000,
    "![ runs": "![" * 5_000,
    "]]][[[": "]" * 5_000 + "[" * 5_000,
    "*_ runs": "*_" * 5_000,
    "nested *a _b **c __d": "*a _b **c __d " * 700,
    "[a]( unclosed links": "[a](" * 2_500,
    "mixed [*_`<": "[*_`<" * 2_000,
    "deep *a ... b***": "*a " * 3_000 + "b" + "*" * 1_000,
    "<em> x 2,000": "<em>" * 2_000,
    "5,000 lines": "a\n" * 5_000,
    "backtick runs": "` `` ``` " * 1_200,
    "ordinary prose": "The *council* voted on [the plan](https://example.org/a) today. " * 160,
}


def best_ms(text: str, runs: int) -> float:
    """The fastest of ``runs`` renders of ``text``, in milliseconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        render_inline(text)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="renders per text; the best is reported")
    args = parser.parse_args()
    worst = 0.0
    for name, text in TEXTS.items():
        text = text[:SIZE]
        ms = best_ms(text, args.runs)
        worst = max(worst, ms)
        print(f"{name:<24} {len(text):>6} chars  {ms:6.2f} ms")
    print(f"{'worst':<24} {'':>6}        {worst:6.2f} ms")


if __name__ == "__main__":
    main()
