"""configure_logging: the only code that installs log handlers."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar

# The id of the HTTP request being handled (set by the server's headers middleware; each request is a task,
# so each has its own value); every log line written while handling it carries the id.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if request_id := REQUEST_ID.get():
            data["request_id"] = request_id
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """One handler on stderr, text or JSON lines; access logs and arq's line per job run (the compile cron runs
    every minute) stay off unless the level is DEBUG: one line per request or per minute buries what matters."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("arq.worker").setLevel(quiet)
