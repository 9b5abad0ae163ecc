"""The plenary command: flags and help (click), then dispatch to clients.commands; nothing heavy is imported here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from clients import commands, reflections_commands
from clients.commands import EXIT_BAD_INPUT, EXIT_FAILED, Args, UsageError

Command = Callable[[Args], int]
FILE = click.Path(path_type=Path)
DAY_HELP = "the day, YYYY-MM-DD"


def _local(func: Command) -> Callable[..., int]:
    """A command that runs here (serve, config, worker): its flags become the Args it is given."""

    def run(**params: Any) -> int:
        return func(Args(**params))

    return run


def _remote(func: Command) -> Callable[..., int]:
    """A client command: problems are one line on stderr, exit 2 for bad input (4xx), 1 otherwise."""

    def run(**params: Any) -> int:
        import logging

        from clients.api_client import ApiError

        args = Args(**{k: list(v) if isinstance(v, tuple) else v for k, v in params.items()})
        logging.basicConfig(level=logging.WARNING, format="plenary: %(message)s", stream=sys.stderr)
        try:
            return func(args)
        except UsageError as exc:
            print(f"plenary: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except ApiError as exc:
            print(f"plenary: error: {exc.message}", file=sys.stderr)
            return EXIT_BAD_INPUT if 400 <= exc.status < 500 else EXIT_FAILED
        except KeyboardInterrupt:
            print("plenary: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # the command line never shows a traceback
            print(f"plenary: error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


def _client_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """--url, --token and --client-config: where the server is and who we are."""
    for option in reversed((
        click.option("--url", help="server URL (else PLENARY_URL, else url in the client config)"),
        click.option("--token", help="bearer token (else PLENARY_TOKEN, else token in the client config)"),
        click.option("--client-config", type=FILE, metavar="FILE",
                     help="client config TOML with url and token (default ~/.config/plenary/client.toml)"),
    )):  # fmt: skip
        command = option(command)
    return command


def _store_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Direct store access for token commands run without a server URL and token."""
    for option in reversed((
        click.option("--redis-url", help="work directly on this Redis instead of through the API"),
        click.option("--data-dir", type=FILE, help="data dir of a running embedded store (default ./var)"),
        click.option("--config", type=FILE, help="server config file (for the Redis URL, prefix, data dir)"),
    )):  # fmt: skip
        command = option(command)
    return command


def _update_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--event", required=True, help="event id"),
        click.option("--quote", metavar="TEXT", help="a quotation"),
        click.option("--speaker", metavar="NAME", help="who said the --quote"),
        click.option("--image", metavar="URL", help="an image URL (http or https)"),
        click.option("--caption", help="the --image caption"),
        click.option("--alt", help="the --image alternative text"),
        click.option("--tag", multiple=True, metavar="TAG", help="a tag (repeat for more)"),
        click.option("--at", metavar="TIME", help='when it happened: RFC 3339, or "HH:MM" (today) or '
                     '"YYYY-MM-DD HH:MM" in the event\'s time zone'),
    )):  # fmt: skip
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def cli() -> None:
    """Live-blogging for conferences."""


# --- local: the server, its settings, the worker ------------------------------------------------------


@cli.command(help="run the server (embedded store unless a Redis URL is given)")
@click.option("--host")
@click.option("--port", type=int)
@click.option("--redis-url")
@click.option("--data-dir", type=FILE)
@click.option("--processes", type=int)
@click.option("--config", type=FILE)
def serve(**params: Any) -> int:
    return _local(commands.cmd_serve)(**params)


@cli.command(help="print the effective settings (secrets masked)")
@click.option("--config", type=FILE)
@click.option("--defaults", is_flag=True, help="print config/defaults.toml as the settings model makes it")
def config(**params: Any) -> int:
    return _local(commands.cmd_config)(**params)


@cli.command(help="run the reflections worker (compiles each day's reflections post)")
@click.option("--redis-url")
@click.option("--data-dir", type=FILE, help="use the embedded store `plenary serve` runs in this dir")
@click.option("--config", type=FILE)
def worker(**params: Any) -> int:
    return _local(commands.cmd_worker)(**params)


# --- updates ------------------------------------------------------------------------------------------


@cli.command(help='post an update of TEXT ("-" reads it from standard input); prints its id and seq')
@click.argument("text", required=False, default="")
@_update_flags
@click.option("--session", help="session id")
@click.option("--key", is_flag=True, help="mark it a key update")
@click.option("--pin", is_flag=True, help="pin it (editors)")
@click.option("--idempotency-key", metavar="KEY", help="default: a fresh UUID, reused by every retry")
@click.option("--retry-seconds", type=float, metavar="S", help="give up retrying after S seconds (30)")
@_client_flags
def post(**params: Any) -> int:
    return _remote(commands.cmd_post)(**params)


@cli.command(help="change an update; prints its id and new version")
@click.argument("id")
@_update_flags
@click.option("--text", help='new text ("-" reads it from standard input)')
@click.option("--session", help="move it to this session")
@click.option("--key/--no-key", default=None, help="mark or unmark it as key")
@click.option("--pin/--no-pin", default=None, help="pin or unpin it (editors)")
@click.option("--clear", multiple=True, type=click.Choice(("session", "quote", "image", "tags")),
              help="remove a field (repeat for more)")  # fmt: skip
@click.option("--version", type=int, help="fail with a conflict unless the update is at this version")
@_client_flags
def edit(**params: Any) -> int:
    return _remote(commands.cmd_edit)(**params)


@cli.command(help="delete an update")
@click.argument("id")
@click.option("--event", required=True, help="event id")
@_client_flags
def delete(**params: Any) -> int:
    return _remote(commands.cmd_delete)(**params)


# --- tokens, events, agenda, demo ---------------------------------------------------------------------


@cli.group(help="create or revoke tokens")
def token() -> None:
    pass


@token.command("create", help="create a token; prints it once")
@click.option("--name", help="unique name, also the author name of its updates (default ROLE-xxxxxx)")
@click.option("--role", required=True, type=click.Choice(("admin", "editor", "reporter")))
@click.option("--event", multiple=True, metavar="EVENT", help="an event it may act on (repeat)")
@_client_flags
@_store_flags
def token_create(**params: Any) -> int:
    return _remote(commands.cmd_token_create)(**params)


@token.command("revoke", help="revoke a token at once")
@click.argument("name")
@_client_flags
@_store_flags
def token_revoke(**params: Any) -> int:
    return _remote(commands.cmd_token_revoke)(**params)


@cli.group(help="maintain the store")
def store() -> None:
    pass


@store.command("migrate", help="move data stored by Plenary 0.1.0 to the current key names (safe to run again)")
@_store_flags
def store_migrate(**params: Any) -> int:
    return _remote(commands.cmd_store_migrate)(**params)


@cli.group(help="create, show or list events")
def event() -> None:
    pass


@event.command("create", help="create an event")
@click.option("--id", required=True, help="slug, e.g. socitm-2011")
@click.option("--title", required=True)
@click.option("--venue")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/London")
@click.option("--starts-on", required=True, metavar="YYYY-MM-DD")
@click.option("--ends-on", metavar="YYYY-MM-DD", help="default: the --starts-on day")
@click.option("--blog-title")
@_client_flags
def event_create(**params: Any) -> int:
    return _remote(commands.cmd_event_create)(**params)


@event.command("show", help="print an event (JSON) with its days")
@click.argument("id")
@click.option("--sessions", is_flag=True, help="include its sessions")
@_client_flags
def event_show(**params: Any) -> int:
    return _remote(commands.cmd_event_show)(**params)


@event.command("list", help="list events")
@_client_flags
def event_list(**params: Any) -> int:
    return _remote(commands.cmd_event_list)(**params)


@cli.group(help="import an agenda")
def agenda() -> None:
    pass


@agenda.command("import", help="create or update sessions from a TOML or YAML agenda")
@click.argument("file", type=FILE)
@click.option("--event", required=True, help="event id")
@click.option("--dry-run", is_flag=True, help="check the file and print the sessions; send nothing")
@_client_flags
def agenda_import(**params: Any) -> int:
    return _remote(commands.cmd_agenda_import)(**params)


@cli.command(help="create the sample event and replay its day (admin token)")
@click.option("--speed", type=float, default=0.0, help="script seconds per real second (0: at once)")
@click.option("--day", type=click.IntRange(1, 2), default=1, help="which demo day: 1 (Manchester) or 2 (Toronto)")
@_client_flags
def demo(**params: Any) -> int:
    return _remote(commands.cmd_demo)(**params)


# --- reflections --------------------------------------------------------------------------------------


@cli.group(help="compile, show, edit and publish a day's reflections post")
def reflections() -> None:
    pass


def _day_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--day", required=True, help=DAY_HELP)(command)
    return click.option("--event", required=True, help="event id")(command)


@reflections.command("compile", help="queue a compile of the day's draft and wait for it")
@_day_flags
@click.option("--replace", is_flag=True, help="recompile over an editor's changes")
@click.option("--no-wait", is_flag=True, help="return once the compile is queued")
@click.option("--wait-seconds", type=float, default=60.0, help="how long to wait for it")
@_client_flags
def reflections_compile(**params: Any) -> int:
    return _remote(reflections_commands.cmd_reflections_compile)(**params)


@reflections.command("show", help="print the draft (editor token) or the published post")
@_day_flags
@click.option("--json", is_flag=True, help="print the whole answer as JSON")
@_client_flags
def reflections_show(**params: Any) -> int:
    return _remote(reflections_commands.cmd_reflections_show)(**params)


@reflections.command("edit", help="edit the draft's Markdown in $EDITOR; a stale save is refused")
@_day_flags
@_client_flags
def reflections_edit(**params: Any) -> int:
    return _remote(reflections_commands.cmd_reflections_edit)(**params)


@reflections.command("publish", help="publish the draft and broadcast it to readers")
@_day_flags
@_client_flags
def reflections_publish(**params: Any) -> int:
    return _remote(reflections_commands.cmd_reflections_publish)(**params)


@cli.command(context_settings={"ignore_unknown_options": True, "help_option_names": []},
             help="load generator: readers, publisher, latency (see bench --help)")  # fmt: skip
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
def bench(argv: tuple[str, ...]) -> int:
    """The benchmark lives in the repository's bench/, not in the installed package: run it from a clone."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / "bench" / "run.py").is_file():
        print("plenary: error: the benchmark is in a clone of the repository: run `python -m bench` there",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    sys.path.insert(0, str(repo))
    from bench.run import main as bench_main

    return bench_main(list(argv))


def main(argv: list[str] | None = None) -> int:
    """Run ``plenary ARGV``; returns the exit status (2 for bad flags, as for bad input)."""
    try:
        code = cli.main(args=sys.argv[1:] if argv is None else argv, prog_name="plenary", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        print("plenary: interrupted", file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
