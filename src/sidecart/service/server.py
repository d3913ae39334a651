"""Start a service: load its settings (failing fast and clearly), set up logs, run uvicorn."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar, get_args

import uvicorn
from fastapi import FastAPI
from pydantic import AliasChoices, BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from sidecart.service.observability import setup_logging
from sidecart.service.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "KEY", "HASH")
"""A variable whose name contains one of these is a secret: its value is never echoed."""


def _holds_secret(annotation: object) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, (SecretStr, SecretBytes)):
        return True
    return any(_holds_secret(arg) for arg in get_args(annotation))


def _names(name: str, field: FieldInfo) -> set[str]:
    names = {name.upper()}
    for alias in (field.alias, field.validation_alias):
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(c.upper() for c in alias.choices if isinstance(c, str))
    return names


def secret_variables(factory: object) -> set[str]:
    """The upper-cased names (field names and aliases) of the settings' SecretStr fields."""
    if not (isinstance(factory, type) and issubclass(factory, BaseModel)):
        return set()
    secrets: set[str] = set()
    for name, field in factory.model_fields.items():
        if _holds_secret(field.annotation):
            secrets |= _names(name, field)
    return secrets


def _shown_input(name: str, error: ErrorDetails, secrets: set[str]) -> str:
    """` (got ...)` for a plain variable; nothing for a secret or for the settings as a whole."""
    if not error["loc"] or name in secrets or any(word in name for word in SECRET_WORDS):
        return ""
    return f" (got {error.get('input')!r})"


def load_settings(factory: Callable[[], S], service: str) -> S:
    """Build the settings or exit with one line per bad variable, never a traceback.

    The line names the variable and says what is wrong; it echoes the value only when the
    variable is not a secret (a SecretStr field, or a name with SECRET, PASSWORD, TOKEN, KEY or
    HASH in it), since these lines end up in logs.
    """
    try:
        return factory()
    except ValidationError as exc:
        secrets = secret_variables(factory)
        for error in exc.errors(include_url=False):
            name = ".".join(str(p) for p in error["loc"]).upper() or "SETTINGS"
            sys.stderr.write(
                f"{service}: bad configuration: {name}: {error['msg']}"
                f"{_shown_input(name, error, secrets)}\n"
            )
        raise SystemExit(2) from None


def uvicorn_config(app: FastAPI, settings: ServiceSettings) -> uvicorn.Config:
    trusted = settings.forwarded_allow_ips
    return uvicorn.Config(
        app,
        host=settings.app_host,
        port=settings.app_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        ws="none",  # no service speaks WebSocket (web streams with Server-Sent Events)
        proxy_headers=trusted is not None,
        # Given explicitly: uvicorn would otherwise read FORWARDED_ALLOW_IPS or trust loopback.
        forwarded_allow_ips=trusted or "",
    )


def serve(app_factory: Callable[[S], FastAPI], settings: S) -> None:
    setup_logging(settings.app_id, settings.log_level)
    uvicorn.Server(uvicorn_config(app_factory(settings), settings)).run()
