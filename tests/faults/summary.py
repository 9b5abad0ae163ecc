"""Print the fault suite's last run as the Markdown table of docs/reliability.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = ("fault", "acked", "final", "readers", "lost", "missed", "duplicated", "out_of_order", "5xx", "reconnects",
           "slowest_answer_s", "seconds")  # fmt: skip


def main(path: str = "var/faults/last-run.jsonl") -> int:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    for row in rows:
        row["5xx"] = ", ".join(f"{n}×{status}" for status, n in row["statuses_5xx"].items()) or "0"
        print("| " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    bad = sum(row["lost"] + row["missed"] + row["duplicated"] + row["out_of_order"] for row in rows)
    print(
        f"\n{len(rows)} runs, {sum(r['acked'] for r in rows)} acknowledged updates, {bad} lost/missed/duplicated/"
        f"out of order; first run {rows[0]['at'] if rows else '-'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
