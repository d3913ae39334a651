"""Only the app's own sidecar may call it: Dapr's app API token, checked on every request.

daprd started with APP_API_TOKEN puts that token in the `dapr-api-token` header of every call it
makes into the app: service invocations, pub/sub deliveries, /dapr/subscribe and /dapr/config.
`AppTokenMiddleware` answers 401 to a request without it (or with another value), compared in
constant time, so a process that reaches the app's port directly cannot skip the sidecar and its
access policies.

What stays open, and why:

- the health route (`/healthz`, web's `/_healthz`): daprd 1.18.1's app health probe sends no
  token (pkg/channel/http/http_channel.go, HealthProbe), and the launcher's readiness wait and
  the kubelet's probes call it directly;
- `/metrics`: Prometheus scrapes the app's port directly, and Prometheus 2.42 cannot add a
  custom header to a scrape; the page holds counters by route template, no data;
- for an app that serves browsers itself (web's storefront, reached without a sidecar), every
  route but the ones only daprd calls: `/dapr/...`, the subscriptions' `/events/...` and the
  platform's `/_platform/...`. Its pages have their own guards (session, admin login).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sidecart.service.settings import API_TOKEN_HEADER, ServiceSettings

log = logging.getLogger("sidecart.auth")

OPEN_PATHS = frozenset({"/healthz", "/_healthz", "/metrics"})
DAPR_ONLY_PREFIXES = ("/dapr/", "/events/", "/_platform/")
REFUSED = f"this route answers only the app's Dapr sidecar: missing or wrong {API_TOKEN_HEADER}"

_HEADER = API_TOKEN_HEADER.encode("latin-1")

Guarded = Callable[[str], bool]
"""Whether a request path needs the token."""


def every_route_but_the_open_ones(path: str) -> bool:
    return path not in OPEN_PATHS


def only_the_routes_daprd_calls(path: str) -> bool:
    return path.startswith(DAPR_ONLY_PREFIXES)


def _presented(scope: Scope) -> list[bytes]:
    return [value for name, value in scope.get("headers", ()) if name.lower() == _HEADER]


class AppTokenMiddleware:
    """Pure ASGI: refuses before routing, so a refused request reaches no handler or body read."""

    def __init__(self, app: ASGIApp, token: SecretStr, guarded: Guarded) -> None:
        self.app = app
        self._token = token.get_secret_value().encode("ascii")
        self._guarded = guarded

    def _allowed(self, scope: Scope) -> bool:
        presented = _presented(scope)
        # One header, equal to the token; two headers are a confused or forged request.
        return len(presented) == 1 and hmac.compare_digest(presented[0], self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if not self._guarded(path) or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        log.warning(
            "refused a request without the app's Dapr API token",
            extra={
                "path": path,
                "method": scope.get("method", "WEBSOCKET"),
                "client": client[0] if client else None,
            },
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = JSONResponse(
            {"detail": REFUSED},
            status_code=401,
            headers={"WWW-Authenticate": API_TOKEN_HEADER},
        )
        await response(scope, receive, send)


def install(app: FastAPI, settings: ServiceSettings, serves_browsers: bool = False) -> None:
    """Check the app token when APP_API_TOKEN is set; say once, at start, what is left open.

    `serves_browsers`: the app's pages are reached directly, not through a sidecar (web), so only
    the routes daprd calls need the token.
    """
    unset = [
        name
        for name, token in (
            ("APP_API_TOKEN", settings.app_api_token),
            ("DAPR_API_TOKEN", settings.dapr_api_token),
        )
        if token is None
    ]
    if unset:
        log.warning(
            "Dapr API token authentication is off for %s: %s",
            " and ".join(unset),
            "; ".join(_CONSEQUENCE[name] for name in unset),
            extra={"unset": unset},
        )
    if settings.app_api_token is not None:
        guarded = only_the_routes_daprd_calls if serves_browsers else every_route_but_the_open_ones
        app.add_middleware(AppTokenMiddleware, token=settings.app_api_token, guarded=guarded)


_CONSEQUENCE = {
    "APP_API_TOKEN": "any process that reaches the app's port may call its routes",
    "DAPR_API_TOKEN": "the app sends no token, so its sidecar must not require one",
}
