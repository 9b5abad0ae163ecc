"""The plenary command: parse and dispatch only; heavy imports happen inside each command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from config.settings import load_settings

    return load_settings(
        args.config,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        redis_url=getattr(args, "redis_url", None),
        data_dir=getattr(args, "data_dir", None),
        processes=getattr(args, "processes", None),
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from server.__main__ import serve

    return serve(_settings(args))


def cmd_config(args: argparse.Namespace) -> int:
    print(json.dumps(_settings(args).masked(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plenary", description="Live-blogging for conferences.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (embedded store unless a Redis URL is given)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--redis-url")
    serve.add_argument("--data-dir", type=Path)
    serve.add_argument("--processes", type=int)
    serve.add_argument("--config", type=Path)
    serve.set_defaults(func=cmd_serve)

    config = sub.add_parser("config", help="print the effective settings (secrets masked)")
    config.add_argument("--config", type=Path)
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
