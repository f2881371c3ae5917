"""Where Tollgate's own log lines go from the command line: standard error, one line each.

The audit trail writes each security event as a JSON line on the `tollgate.audit` logger
(services/audit.py). `serve` adds these settings to uvicorn's; every other command applies
them alone, so what an admin command did (a user disabled, a key rotated) reaches the log
as it reaches the audit table.
"""

from __future__ import annotations

import copy
import logging.config
from typing import Any

import uvicorn

# At INFO whatever uvicorn's level, so the audit trail always reaches the log.
TOLLGATE_LOGGING: dict[str, Any] = {
    "formatters": {"tollgate": {"format": "%(message)s"}},
    "handlers": {
        "tollgate": {
            "formatter": "tollgate",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {"tollgate": {"handlers": ["tollgate"], "level": "INFO", "propagate": False}},
}


def server_logging() -> dict[str, Any]:
    """uvicorn's logging, plus Tollgate's own loggers."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for section, entries in TOLLGATE_LOGGING.items():
        config[section].update(copy.deepcopy(entries))
    return config


def command_logging() -> None:
    """Tollgate's loggers alone, for an admin command; other libraries' loggers untouched."""
    logging.config.dictConfig(
        {"version": 1, "disable_existing_loggers": False, **copy.deepcopy(TOLLGATE_LOGGING)}
    )
