"""The fault suite's checker counts what it claims: lost, missed, duplicated and reordered updates, and 5xx."""

from __future__ import annotations

from tests.faults.checker import History, check


def _update(n: int, key: str | None = None) -> dict[str, str]:
    return {"id": f"u{n}", "seq": f"{n}-0", "text": f"{key or f'k{n}'} update"}


def test_a_clean_history_is_clean() -> None:
    history = History()
    final = [_update(n) for n in range(3)]
    for n in range(3):
        history.acked[f"k{n}"] = (f"u{n}", f"{n}-0")
    history.reader("ws").received.extend((f"u{n}", f"{n}-0") for n in range(3))
    history.statuses.update([201, 201, 201, 503])
    report = check("none", history, final, 1.0)
    assert report.clean and report.unexpected_5xx == 0
    assert (report.acked, report.final, report.statuses_5xx) == (3, 3, {"503": 1})


def test_every_kind_of_failure_is_counted() -> None:
    history = History()
    final = [_update(0), _update(1), _update(2), _update(3, key="k2")]  # k2 stored twice
    history.acked.update({"k0": ("u0", "0-0"), "k1": ("u1", "9-9"), "k9": ("u9", "9-0")})  # k1: wrong seq, k9: gone
    history.reader("ws").received.extend([("u1", "1-0"), ("u0", "0-0"), ("u2", "2-0"), ("u2", "2-0")])
    history.reader("sse").received.extend([("u0", "0-0")])
    history.statuses.update([500, 500, 503])
    report = check("all", history, final, 1.0)
    assert report.lost == 2
    assert report.duplicated == 2  # k2 stored twice, u2 received twice
    assert report.out_of_order == 2  # u0 after u1, the second u2
    assert report.missed == 1 + 3  # ws never got u3; sse never got u1, u2, u3
    assert report.unexpected_5xx == 2 and not report.clean
