"""Log output: plain text for people, or one JSON object per line for log collectors.

The same configuration covers our loggers and uvicorn's (`uvicorn.error`, `uvicorn.access`): it
is handed to uvicorn as its `log_config`, so every worker process applies it when it starts.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

FORMATS = ("text", "json")
TRACE = 5  # uvicorn's extra level below DEBUG

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Record attributes that are not "extras": uvicorn attaches an ANSI-coloured copy of some
# messages, and Python 3.12 adds taskName to every record.
NOT_EXTRAS = [*RESERVED_ATTRS, "color_message", "taskName"]


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for `fmt` ("text" or "json") at `level` ("info", …)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    logging.addLevelName(TRACE, "TRACE")
    formatter: dict[str, Any]
    if fmt == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
            "reserved_attrs": NOT_EXTRAS,
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    level = level.upper()
    # uvicorn's loggers lose the handlers of its default config and pass records to ours.
    passthrough = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {**passthrough, "level": level},
            "uvicorn.error": passthrough,
            "uvicorn.access": passthrough,
        },
    }


def configure_logging(fmt: str, level: str) -> None:
    logging.config.dictConfig(logging_config(fmt, level))
