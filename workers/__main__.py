"""plenary worker: compiles the reflections posts (several workers may run; each job runs once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from config.logs import configure_logging
from config.settings import Settings

logger = logging.getLogger("plenary.worker")


def run_worker(settings: Settings) -> int:
    """Run a worker until SIGINT or SIGTERM, on ``redis_url`` or else on the embedded store a running
    `plenary serve` started in ``data_dir``."""
    from workers.queue import make_worker

    configure_logging(settings.log_level, settings.log_format)
    if not settings.redis_url:
        from server.embedded import running_url

        url = running_url(settings.data_dir)
        if url is None:
            logger.error("no redis_url and no embedded store running in %s; start `plenary serve` first",
                         settings.data_dir)  # fmt: skip
            return 2
        settings = settings.model_copy(update={"redis_url": url})
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    logger.info("worker starting on queue %s", settings.redis_prefix)
    make_worker(settings).run()  # its own loop; stops gracefully on SIGINT and SIGTERM
    return 0


def main() -> int:
    from config.settings import load_settings

    return run_worker(load_settings())


if __name__ == "__main__":
    sys.exit(main())
