"""Pure parts of the benchmark: the seq checker, latency statistics and the results table."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# What the publisher writes into each update's text, and a probe or tracking reader finds again.
MARK = re.compile(rb"bench k=(\d+) t=(\d+)")
SEQ = re.compile(rb'"seq": ?"(\d+)-(\d+)"')


def mark_text(k: int, t_ns: int, pad: int = 0) -> str:
    """The update text for post number ``k`` sent at ``t_ns`` (time.time_ns), padded with ``pad`` letters."""
    return f"bench k={k} t={t_ns} " + "x" * pad


def seq_key(seq: str) -> tuple[int, int]:
    """Order of a seq ``<ms>-<n>``."""
    ms, _, n = seq.partition("-")
    return int(ms), int(n or 0)


@dataclass
class Check:
    """What a seq checker found: messages lost, delivered twice, or out of seq order."""

    lost: int = 0
    duplicated: int = 0
    disordered: int = 0

    def add(self, other: Check) -> None:
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.disordered += other.disordered


class SeqChecker:
    """Tracks one reader's bench messages: post number ``k`` (from the text) and ``seq`` (from the feed).

    A duplicate is a ``k`` seen twice or a seq not greater than the previous one for a new ``k``; out of
    order is a seq lower than the previous; lost is an acknowledged ``k`` never seen. Memory: one byte per
    post number (a bytearray), so thousands of readers can track a run.
    """

    __slots__ = ("_seen", "count", "disordered", "duplicated", "last_key", "last_seq")

    def __init__(self) -> None:
        self._seen = bytearray()
        self.duplicated = 0
        self.disordered = 0
        self.last_key: tuple[int, int] = (0, 0)
        self.last_seq: str | None = None
        self.count = 0

    def observe(self, k: int, seq: str) -> None:
        """Record one received bench message."""
        key = seq_key(seq)
        if k >= len(self._seen):
            self._seen.extend(bytes(k + 1 - len(self._seen) + 64))
        if self._seen[k]:
            self.duplicated += 1
        else:
            self._seen[k] = 1
            self.count += 1
            if key <= self.last_key:
                self.disordered += 1
        if key > self.last_key:
            self.last_key, self.last_seq = key, seq

    def seen(self, k: int) -> bool:
        return k < len(self._seen) and bool(self._seen[k])

    def check(self, acked: Iterable[int]) -> Check:
        """Compare with the post numbers the server acknowledged (201) during the run."""
        lost = sum(1 for k in acked if not self.seen(k))
        return Check(lost=lost, duplicated=self.duplicated, disordered=self.disordered)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Latency:
    """Latency samples in seconds and their summary."""

    samples: list[float] = field(default_factory=list)

    def extend(self, values: Iterable[float]) -> None:
        self.samples.extend(values)

    def summary(self) -> dict[str, float]:
        """count, p50, p99 and max in milliseconds (NaN without samples)."""
        values = sorted(self.samples)
        return {
            "count": float(len(values)),
            "p50_ms": percentile(values, 0.50) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
            "max_ms": (values[-1] * 1000) if values else math.nan,
        }


@dataclass
class Histogram:
    """Latencies counted in 0.1 ms buckets: mergeable across generator processes, small to send back."""

    buckets: dict[int, int] = field(default_factory=dict)
    count: int = 0

    def add(self, seconds: float) -> None:
        bucket = max(0, int(seconds * 10_000))
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
        self.count += 1

    def merge(self, other: dict[int, int]) -> None:
        for bucket, n in other.items():
            self.buckets[int(bucket)] = self.buckets.get(int(bucket), 0) + n
            self.count += n

    def quantile(self, q: float) -> float:
        """The ``q`` quantile in seconds (nearest rank, to the bucket's upper edge); NaN when empty."""
        if not self.count:
            return math.nan
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return (bucket + 1) / 10_000
        return math.nan  # not reached: the counts add up to self.count

    def summary(self) -> dict[str, float]:
        return {"count": float(self.count), "p50_ms": self.quantile(0.5) * 1000, "p99_ms": self.quantile(0.99) * 1000,
                "max_ms": self.quantile(1.0) * 1000}  # fmt: skip


def arrival_latencies(arrivals: Sequence[int], posted: Sequence[int], start: int, end: int, into: Histogram) -> int:
    """Add one reader's post→receive latencies of messages ``start``..``end - 1`` to ``into``.

    ``arrivals[i]`` is when the reader got its i-th data frame and ``posted[i]`` when the i-th message (in seq
    order) was posted, both time.time_ns(): a reader that connected before the first post gets the messages
    in seq order, so frame i is message i. Returns how many of those messages the reader did not get.
    """
    got = min(end, len(arrivals))
    for i in range(start, got):
        into.add((arrivals[i] - posted[i]) / 1e9)
    return max(0, end - max(start, got))


COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("scenario", "scenario", "s"),
    ("feed", "feed", "s"),
    ("procs", "procs", "d"),
    ("readers", "N", "d"),
    ("connected", "conn", "d"),
    ("connect_s", "conn s", ".1f"),
    ("rate", "R/s", ".0f"),
    ("deliveries_per_s", "deliv/s", ",.0f"),
    ("p50_ms", "p50 ms", ".1f"),
    ("p99_ms", "p99 ms", ".1f"),
    ("all_p99_ms", "all p99", ".1f"),
    ("warmup_p99_ms", "warm p99", ".1f"),
    ("max_ms", "max ms", ".1f"),
    ("ack_p50_ms", "ack p50", ".1f"),
    ("ack_p99_ms", "ack p99", ".1f"),
    ("lost", "lost", "d"),
    ("duplicated", "dup", "d"),
    ("kib_per_reader", "KiB/rdr", ".1f"),
    ("server_cpu_pct", "srv CPU%", ".0f"),
    ("gen_cpu_pct", "gen CPU%", ".0f"),
    ("resume_s", "resume s", ".2f"),
)


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if fmt == "d":
        return str(int(value))
    if fmt == "s":
        return str(value)
    return format(float(value), fmt)


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of results as an aligned text table; columns absent from every row are left out."""
    columns = [c for c in COLUMNS if any(c[0] in row for row in rows)]
    cells = [[title for _key, title, _fmt in columns]]
    cells += [[_cell(row.get(key), fmt) for key, _title, fmt in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
