"""structlog configuration shared by the CLI, the server parent and every worker process."""

from __future__ import annotations

import logging
import sys

import structlog

from config import LoggingSettings


def configure_logging(settings: LoggingSettings) -> None:
    """Route structlog and stdlib logging to stderr at the configured level and format."""
    level = getattr(logging, settings.level.upper())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # Hypercorn's access log would log every request line at info; keep it at warning unless debugging.
    logging.getLogger("hypercorn.access").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    )
