"""Benchmark: compile a synthetic day of 10,000 updates over 12 sessions and print the time (target < 2 s)."""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from zoneinfo import ZoneInfo

from server.models import Event, Person, Session, SessionKind, Update
from workers.reflections import LogEntry, compile_day

# fmt: off
_WORDS = (
    "council", "residents", "budget", "platform", "data", "services", "digital", "shared", "funding",
    "housing", "care", "forms", "waste", "procurement", "contracts", "cloud", "legacy", "design",
    "standard", "users", "accessibility", "pilot", "partnership", "savings", "officers", "members",
    "scrutiny", "transformation", "channel", "shift", "portal", "booking", "payments", "licences",
    "roadmap", "security", "identity", "records", "integration", "neighbourhood", "library", "transport",
    "planning", "licensing"
)
# fmt: on
_KINDS = list(SessionKind)


def synthetic_day(
    updates: int = 10_000, sessions: int = 12, seed: int = 7
) -> tuple[Event, list[Session], list[LogEntry]]:
    """A deterministic event, agenda and log: ``updates`` posts (with edits and deletes) over ``sessions``."""
    rng = random.Random(seed)
    zone = ZoneInfo("Europe/London")
    day = dt.date(2025, 10, 9)
    event = Event(id="bench", title="Bench Summit", venue="Hall", timezone="Europe/London",
                  starts_on=day, ends_on=day)  # fmt: skip
    start = dt.datetime(2025, 10, 9, 8, 30, tzinfo=zone)
    programme = [
        Session(
            id=f"s{i}", event="bench", title=f"Session {i}: {' '.join(rng.sample(_WORDS, 3))}",
            kind=_KINDS[i % len(_KINDS)], starts_at=start + dt.timedelta(minutes=50 * i), day=day,
            speakers=[Person(name=f"Speaker {i}-{j}", role="Director", organisation=f"Org {j}") for j in range(3)],
            hosts=[Person(name=f"Host {i}")], participants=[f"Council {k}" for k in range(4)],
        )
        for i in range(sessions)
    ]  # fmt: skip
    log: list[LogEntry] = []
    reporters = ["Drew", "Howard", "Asha", "Ben"]
    for n in range(updates):
        session = programme[n * sessions // updates]
        happened = session.starts_at + dt.timedelta(seconds=rng.randrange(45 * 60))
        text = ". ".join(" ".join(rng.choices(_WORDS, k=rng.randint(6, 16))).capitalize() for _ in range(2))
        roll = rng.random()
        update = Update(
            id=f"u{n}", seq=f"{n + 1}-0", event="bench", session=session.id,
            author={"name": rng.choice(reporters)}, happened_at=happened, received_at=happened,
            text=text + ".", key=roll < 0.05,
            quote={"text": text, "speaker": session.speakers[0].name} if 0.05 <= roll < 0.08 else None,
            image={"url": f"https://img.example.org/{n}.jpg", "caption": text[:40], "alt": "A photo"}
            if 0.08 <= roll < 0.09 else None,
        )  # fmt: skip
        data = update.model_dump(mode="json")
        log.append(LogEntry(update.seq, "update", data))
        if roll > 0.98:
            log.append(LogEntry(f"{n + 1}-1", "edit", {**data, "text": "Edited: " + text, "version": 2}))
        elif roll > 0.96:
            log.append(LogEntry(f"{n + 1}-1", "delete", {"id": update.id}))
    return event, programme, log


def main() -> None:
    """Build the synthetic day, compile it a few times and print the best and median times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    event, programme, log = synthetic_day(args.updates, args.sessions)
    times = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        draft = compile_day(event, programme, log, event.starts_on)
        times.append(time.perf_counter() - began)
    times.sort()
    print(
        f"compile_day: {args.updates} updates, {args.sessions} sessions, {len(log)} log entries -> "
        f"{len(draft.markdown.split())} words, {len(draft.sources)} traced blocks; "
        f"best {times[0]:.3f} s, median {times[len(times) // 2]:.3f} s (target < 2 s)"
    )


if __name__ == "__main__":
    main()
