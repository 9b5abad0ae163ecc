"""Agenda files: the pure TOML/YAML -> session requests step, and `plenary agenda import` against a real server."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from clients.agenda import AgendaError, build_sessions, parse_moment, read_agenda, slugify
from server.models import Event, EventCreate

from conftest import ADMIN_TOKEN, ROOT, LiveServer
from test_cli import EVENT_FLAGS, cli_env, get_json, ok, run_cli

EXAMPLE = ROOT / "docs" / "agenda-example.toml"
SOCITM = Event.from_create(EventCreate(id="socitm-2011", title="SOCITM 2011", timezone="Europe/London",
                                       starts_on=dt.date(2011, 10, 10), ends_on=dt.date(2011, 10, 11)))  # fmt: skip

YAML_AGENDA = """\
event: socitm-2011
days:
  - date: 2011-10-10
    sessions:
      - id: keynote
        title: "Opening keynote: Smarter government (revised)"
        kind: keynote
        start: 09:30
        end: 10:15
        room: Hall 1
        speakers:
          - name: Jos Creese
            role: President
            organization: SOCITM
      - title: Demo – Office 365 for councils
        kind: demo
        start: 14:00
        end: 14:45
        hosts: [Kate Rawson]
sessions:
  - title: Closing remarks
    start: 2011-10-11T16:30:00+01:00
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_agenda_builds_sessions() -> None:
    sessions = build_sessions(read_agenda(EXAMPLE), SOCITM)
    assert [s.id for s in sessions] == ["keynote", "shared-services-roundtable", "lunch",
                                        "keynote-the-cloud-and-the-council", "lunch-2"]  # fmt: skip
    opening = sessions[0].body
    assert opening["starts_at"] == "2011-10-10T09:30:00+01:00" and opening["ends_at"] == "2011-10-10T10:15:00+01:00"
    assert opening["room"] == "Hall 1" and opening["kind"] == "keynote"  # the day's default room
    assert opening["speakers"] == [{"name": "Jos Creese", "role": "President", "organisation": "SOCITM"}]
    assert opening["hosts"] == [{"name": "Kate Rawson"}]
    roundtable = sessions[1].body
    assert roundtable["room"] == "Room 5" and len(roundtable["participants"]) == 3  # type: ignore[arg-type]
    assert sessions[3].body["starts_at"] == "2011-10-11T09:30:00+01:00"
    assert "ends_at" not in sessions[2].body and "room" not in sessions[4].body


def test_yaml_times_stay_times_and_organization_is_accepted(tmp_path: Path) -> None:
    data = read_agenda(_write(tmp_path, "agenda.yaml", YAML_AGENDA))
    sessions = build_sessions(data, SOCITM)
    assert [s.id for s in sessions] == ["keynote", "demo-office-365-for-councils", "closing-remarks"]
    assert sessions[0].body["ends_at"] == "2011-10-10T10:15:00+01:00"  # not 615 (YAML 1.1 base 60)
    assert sessions[0].body["speakers"] == [{"name": "Jos Creese", "role": "President", "organisation": "SOCITM"}]
    assert sessions[2].body["starts_at"] == "2011-10-11T16:30:00+01:00"


def test_local_times_follow_the_event_zone_across_dst() -> None:
    zone = SOCITM.zone
    assert parse_moment("09:30", zone, dt.date(2011, 10, 29)).isoformat() == "2011-10-29T09:30:00+01:00"
    assert parse_moment("09:30", zone, dt.date(2011, 10, 30)).isoformat() == "2011-10-30T09:30:00+00:00"
    assert parse_moment("2011-10-30T09:30:00Z", zone).isoformat() == "2011-10-30T09:30:00+00:00"
    assert parse_moment("2011-10-10 09:30", zone).isoformat() == "2011-10-10T09:30:00+01:00"
    assert parse_moment(dt.time(9, 30), zone, dt.date(2011, 10, 10)).utcoffset() == dt.timedelta(hours=1)
    with pytest.raises(AgendaError, match="needs a date"):
        parse_moment("09:30", zone)
    with pytest.raises(AgendaError, match="not a time of day"):
        parse_moment("25:00", zone, dt.date(2011, 10, 10))


def test_slugify() -> None:
    assert slugify("Keynote: the Cloud & the Council!") == "keynote-the-cloud-the-council"
    assert slugify("Café – naïve") == "cafe-naive"
    assert slugify("x" * 100) == "x" * 64
    assert slugify("???") == ""


@pytest.mark.parametrize(
    "agenda, message",
    [
        ({"sessions": [{"title": "A", "start": "2011-10-10T09:00:00+01:00", "colour": "red"}]},
         r"session 1 'A': unknown field 'colour'"),
        ({"days": [{"date": "2011-10-10", "sessions": [{"start": "09:00"}]}]}, r"day 1 .* title: missing"),
        ({"days": [{"date": "2011-10-10", "sessions": [{"title": "A", "start": "09:00", "kind": "party"}]}]},
         r"'A': kind: Input should be 'plenary'"),
        ({"sessions": [{"title": "A", "start": "09:00"}]}, r"'A': start: a local time needs a date"),
        ({"days": [{"date": "2011-10-20", "sessions": [{"title": "A", "start": "09:00"}]}]},
         r"start: 2011-10-20 09:00 is outside the event's days"),
        ({"days": [{"date": "2011-10-10", "sessions": [{"title": "A", "start": "10:00", "end": "09:00"}]}]},
         r"ends_at: must not be before starts_at"),
        ({"sessions": [{"id": "x", "title": "A", "start": "2011-10-10T09:00:00Z"},
                       {"id": "x", "title": "B", "start": "2011-10-10T10:00:00Z"}]}, r"'B': id: 'x' is used twice"),
        ({"sessions": [{"id": "Not A Slug", "title": "A", "start": "2011-10-10T09:00:00Z"}]}, r"id: must match"),
        ({"event": "other-event", "sessions": []}, r"for event 'other-event', not 'socitm-2011'"),
        ({"days": [{"sessions": []}]}, r"day 1: date: missing"),
        ({}, r"no sessions found"),
    ],
)  # fmt: skip
def test_agenda_errors_name_the_place(agenda: dict[str, object], message: str) -> None:
    with pytest.raises(AgendaError, match=message):
        build_sessions(agenda, SOCITM)


def test_explicit_ids_win_over_generated_ones() -> None:
    agenda = {"sessions": [{"title": "Lunch", "start": "2011-10-10T12:00:00Z"},
                           {"id": "lunch", "title": "Dinner", "start": "2011-10-10T19:00:00Z"}]}  # fmt: skip
    assert [s.id for s in build_sessions(agenda, SOCITM)] == ["lunch-2", "lunch"]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(AgendaError, match="cannot read"):
        read_agenda(tmp_path / "missing.toml")
    with pytest.raises(AgendaError, match=r"broken\.toml"):
        read_agenda(_write(tmp_path, "broken.toml", "[[days]\n"))
    with pytest.raises(AgendaError, match="expected a table"):
        read_agenda(_write(tmp_path, "list.yaml", "- a\n- b\n"))


# --- end to end -----------------------------------------------------------------------------------------


def test_import_toml_then_yaml(live_server: LiveServer, tmp_path: Path) -> None:
    admin = cli_env(tmp_path, live_server.url, ADMIN_TOKEN)
    ok("event", "create", *EVENT_FLAGS, env=admin)
    editor = ok("token", "create", "--name", "Ed", "--role", "editor", "--event", "socitm-2011", env=admin).strip()
    env = cli_env(tmp_path, live_server.url, editor)

    done = run_cli("agenda", "import", str(EXAMPLE), "--event", "socitm-2011", env=env)
    assert done.returncode == 0, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == [
        "created keynote", "created shared-services-roundtable", "created lunch",
        "created keynote-the-cloud-and-the-council", "created lunch-2"]  # fmt: skip
    assert "5 sessions: 5 created, 0 updated" in done.stderr
    sessions = get_json(f"{live_server.url}/api/events/socitm-2011/sessions?day=2011-10-10")["sessions"]
    assert [s["id"] for s in sessions] == ["keynote", "shared-services-roundtable", "lunch"]
    assert sessions[0]["starts_at"].replace("Z", "+00:00") in ("2011-10-10T08:30:00+00:00", "2011-10-10T09:30:00+01:00")
    assert sessions[0]["speakers"][0] == {"name": "Jos Creese", "role": "President", "organisation": "SOCITM"}

    yaml_file = _write(tmp_path, "agenda.yaml", YAML_AGENDA)
    done = run_cli("agenda", "import", str(yaml_file), "--event", "socitm-2011", env=env)
    assert done.returncode == 0, done.stderr
    assert "3 sessions: 2 created, 1 updated" in done.stderr
    keynote = [s for s in get_json(f"{live_server.url}/api/events/socitm-2011/sessions")["sessions"]
               if s["id"] == "keynote"]  # fmt: skip
    assert keynote[0]["title"] == "Opening keynote: Smarter government (revised)"
    assert len(get_json(f"{live_server.url}/api/events/socitm-2011/sessions")["sessions"]) == 7

    # a reporter may post into an imported session
    reporter = ok("token", "create", "--name", "Drew", "--role", "reporter", "--event", "socitm-2011", env=admin)
    ok("post", "Live from the demo", "--event", "socitm-2011", "--session", "demo-office-365-for-councils",
       "--at", "2011-10-10T14:05:00+01:00", env=cli_env(tmp_path, live_server.url, reporter.strip()))  # fmt: skip


def test_import_checks_everything_before_sending(live_server: LiveServer, tmp_path: Path) -> None:
    admin = cli_env(tmp_path, live_server.url, ADMIN_TOKEN)
    ok("event", "create", *EVENT_FLAGS, env=admin)
    broken = _write(tmp_path, "broken.yaml", YAML_AGENDA.replace("start: 14:00", "start: 26:00"))
    done = run_cli("agenda", "import", str(broken), "--event", "socitm-2011", env=admin)
    assert done.returncode == 2 and "session 2 'Demo – Office 365 for councils': start" in done.stderr
    assert get_json(f"{live_server.url}/api/events/socitm-2011/sessions")["sessions"] == []

    dry = run_cli("agenda", "import", str(EXAMPLE), "--event", "socitm-2011", "--dry-run",
                  env=cli_env(tmp_path, live_server.url))  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert list(json.loads(dry.stdout))[:2] == ["keynote", "shared-services-roundtable"]
    assert get_json(f"{live_server.url}/api/events/socitm-2011/sessions")["sessions"] == []

    reporter = ok("token", "create", "--name", "Drew", "--role", "reporter", "--event", "socitm-2011", env=admin)
    denied = run_cli("agenda", "import", str(EXAMPLE), "--event", "socitm-2011",
                     env=cli_env(tmp_path, live_server.url, reporter.strip()))  # fmt: skip
    assert denied.returncode == 2 and "editor" in denied.stderr and "stopped at session 'keynote'" in denied.stderr

    missing = run_cli("agenda", "import", str(tmp_path / "nope.toml"), "--event", "socitm-2011", env=admin)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    unknown = run_cli("agenda", "import", str(EXAMPLE), "--event", "no-such-event", env=admin)
    assert unknown.returncode == 2 and "404" in unknown.stderr
