"""Log set-up shared by `paperfeed serve` and `paperfeed worker`: plain text or one JSON object a line."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from paperfeed.errors import ConfigError

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else was passed with extra={...} and is logged too.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of msg with terminal colour codes
}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: ts, level, logger, msg, extras, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            # uvicorn passes (client, method, path, http version, status): keep them queryable.
            data.update(client=args[0], method=args[1], path=args[2], status=args[4])
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in data:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def log_config(fmt: str, level: str = "INFO") -> dict[str, Any]:
    """A logging dictConfig (also given to uvicorn) sending every logger to stderr in one format."""
    if fmt not in FORMATS:
        raise ConfigError(f"PAPERFEED_LOG_FORMAT={fmt!r} is not one of: {', '.join(FORMATS)}")
    level = level.upper()
    if level not in logging.getLevelNamesMapping():
        raise ConfigError(f"PAPERFEED_LOG_LEVEL={level!r} is not a level such as INFO or DEBUG")
    formatter: dict[str, Any] = (
        {"()": "paperfeed.logs.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        # uvicorn's loggers propagate to the root handler instead of keeping their own format.
        "loggers": {
            name: {"handlers": [], "level": level, "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Send all logs to stderr as text or JSON lines."""
    logging.config.dictConfig(log_config(fmt, level))
