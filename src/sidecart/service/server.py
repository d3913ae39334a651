"""Start a service: load its settings (failing fast and clearly), set up logs, run uvicorn."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from sidecart.service.observability import setup_logging
from sidecart.service.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def load_settings(factory: Callable[[], S], service: str) -> S:
    """Build the settings or exit with one line per bad variable, never a traceback."""
    try:
        return factory()
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "settings"
            sys.stderr.write(
                f"{service}: bad configuration: {name.upper()}: {error['msg']}"
                f" (got {error.get('input')!r})\n"
            )
        raise SystemExit(2) from None


def serve(app_factory: Callable[[S], FastAPI], settings: S) -> None:
    setup_logging(settings.app_id, settings.log_level)
    uvicorn.run(
        app_factory(settings),
        host=settings.app_host,
        port=settings.app_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
