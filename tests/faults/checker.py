"""A Jepsen-style history and checker: what posters were told, what every reader received, what the log keeps.

Posters record each logical update (one Idempotency-Key) and every answer they got; readers record every update
message in the order it arrived. ``check`` compares them with the final list read after the fault:

- lost: an acknowledged (201) update missing from the final list, or present under another seq than its 201 said;
- missed: a (reader, update) pair where the final list has the update and the reader never received it;
- duplicated: one logical update stored twice, or one reader receiving the same update twice;
- out of order: a reader receiving an update before one that precedes it in the final list;
- 5xx: answers with a 5xx status, counted by status (503 is the promised answer of a store that cannot write).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ReaderLog:
    """What one reader received, in arrival order."""

    name: str
    received: list[tuple[str, str]] = field(default_factory=list)  # (update id, seq)
    connects: int = 0
    resyncs: int = 0


@dataclass
class History:
    """Every poster's answers and every reader's deliveries during one run."""

    acked: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (id, seq) from the 201
    attempts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # every status answered to a post
    errors: Counter[str] = field(default_factory=Counter)  # connection errors and time-outs, by kind
    unacked: set[str] = field(default_factory=set)  # keys a poster gave up on
    slowest_answer: float = 0.0  # seconds, the longest single post attempt (answered or not)
    stalled: bool = False  # the posters or the fault did not finish in time
    readers: list[ReaderLog] = field(default_factory=list)

    def reader(self, name: str) -> ReaderLog:
        log = ReaderLog(name)
        self.readers.append(log)
        return log


@dataclass
class Report:
    """The checker's verdict on one run; ``clean`` means every promise held."""

    fault: str
    acked: int
    unacked: int
    final: int
    readers: int
    lost: int
    missed: int
    duplicated: int
    out_of_order: int
    resyncs: int
    reconnects: int
    attempts: int
    statuses_5xx: dict[str, int]
    errors: dict[str, int]
    slowest_answer_s: float
    seconds: float
    stalled: bool = False

    @property
    def unexpected_5xx(self) -> int:
        """5xx answers other than 503 (a 500 is a bug; 503 + Retry-After is what a failing store answers)."""
        return sum(n for status, n in self.statuses_5xx.items() if status != "503")

    @property
    def clean(self) -> bool:
        return not (self.lost or self.missed or self.duplicated or self.out_of_order or self.resyncs or self.stalled)


def key_of(update: dict[str, Any]) -> str:
    """The poster's key, which every posted text starts with ("key rest of the text")."""
    return str(update["text"]).split(" ", 1)[0]


def check(fault: str, history: History, final: list[dict[str, Any]], seconds: float) -> Report:
    """Compare the history with the final list (the event's updates in list order, oldest first)."""
    position = {str(u["id"]): i for i, u in enumerate(final)}
    by_key = Counter(key_of(u) for u in final)
    seq_of = {str(u["id"]): str(u["seq"]) for u in final}
    lost = sum(1 for update_id, seq in history.acked.values() if seq_of.get(update_id) != seq)
    duplicated = sum(n - 1 for n in by_key.values() if n > 1)
    missed = out_of_order = 0
    for reader in history.readers:
        ids = [update_id for update_id, _ in reader.received]
        counts = Counter(ids)
        duplicated += sum(n - 1 for n in counts.values() if n > 1)
        missed += sum(1 for update_id in position if update_id not in counts)
        places = [position[i] for i in ids if i in position]
        out_of_order += sum(1 for a, b in itertools.pairwise(places) if b <= a)
    return Report(
        fault=fault,
        acked=len(history.acked),
        unacked=len(history.unacked),
        final=len(final),
        readers=len(history.readers),
        lost=lost,
        missed=missed,
        duplicated=duplicated,
        out_of_order=out_of_order,
        resyncs=sum(r.resyncs for r in history.readers),
        reconnects=sum(max(r.connects - 1, 0) for r in history.readers),
        attempts=history.attempts,
        statuses_5xx={str(s): n for s, n in sorted(history.statuses.items()) if s >= 500},
        errors=dict(history.errors),
        slowest_answer_s=round(history.slowest_answer, 3),
        seconds=round(seconds, 1),
        stalled=history.stalled,
    )


def record(report: Report) -> None:
    """Append the report to the file named by PLENARY_FAULTS_REPORT (make test-faults prints it)."""
    path = os.environ.get("PLENARY_FAULTS_REPORT")
    if not path:
        return
    data = {**asdict(report), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(data) + "\n")
