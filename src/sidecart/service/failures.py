"""HTTP answers for state and sidecar failures, the same in every service.

A route that reads or writes state through `sidecart.service.state` (or calls the Dapr SDK)
lets these errors propagate; `instrument()` installs the handlers, so the caller learns what
happened instead of a bare 500:

- the sidecar or its state store is unavailable (StateUnavailableError, an SDK error): 503, and
  the caller may retry later;
- an item kept changing under an update (StateConflictError): 409.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sidecart.service.state import SDK_ERRORS, StateConflictError, StateUnavailableError

log = logging.getLogger("sidecart.failures")

UNAVAILABLE = "the service's state store or sidecar is unavailable; try again shortly"
CONFLICT = "the data kept changing under this request; try again"


def unavailable(detail: str = UNAVAILABLE) -> JSONResponse:
    """The one shape of a 503 in every service: a reason, and when to try again."""
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "state or sidecar unavailable",
        extra={"path": request.url.path, "error_type": type(exc).__name__, "error": str(exc)},
    )
    return unavailable()


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    log.warning("state kept changing", extra={"path": request.url.path, "error": str(exc)})
    return JSONResponse({"detail": CONFLICT}, status_code=409)


def install(app: FastAPI) -> None:
    """Answer 503 to state-store and sidecar failures and 409 to lost state races."""
    unavailable_errors: tuple[type[Exception], ...] = (StateUnavailableError, *SDK_ERRORS)
    for unavailable in unavailable_errors:
        app.add_exception_handler(unavailable, _unavailable)
    app.add_exception_handler(StateConflictError, _conflict)
