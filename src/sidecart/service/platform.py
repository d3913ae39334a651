"""`GET /_platform/metadata`: an app's own sidecar, as its metadata and health APIs describe it.

Every service gets the route from `observability.instrument()`. Web's admin invokes it on each
app id through Dapr service invocation, so one page shows every sidecar's components,
subscriptions and health. Only the fields that page needs are passed on: the sidecar's
`extended` metadata (the app's command line, process ids) stays inside the app.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter

from sidecart.service.settings import ServiceSettings

ROUTE = "/_platform/metadata"
TIMEOUT_SECONDS = 3.0
_KEPT = (
    "id",
    "runtimeVersion",
    "enabledFeatures",
    "components",
    "subscriptions",
    "httpEndpoints",
    "appConnectionProperties",
)

log = logging.getLogger("sidecart.platform")


def _kept(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        return {}
    return {key: metadata[key] for key in _KEPT if key in metadata}


async def sidecar_report(settings: ServiceSettings, http: httpx.AsyncClient) -> dict[str, Any]:
    """`{"app_id", "healthy", "health_status", "metadata", "error"?}` of this app's sidecar."""
    base = f"{settings.dapr_http_url}/v1.0"
    report: dict[str, Any] = {"app_id": settings.app_id, "healthy": False, "metadata": None}
    try:
        health = await http.get(f"{base}/healthz")
        report["healthy"] = health.is_success
        report["health_status"] = health.status_code
        metadata = await http.get(f"{base}/metadata")
        metadata.raise_for_status()
        report["metadata"] = _kept(metadata.json())
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("own sidecar did not describe itself", extra={"error": str(exc)})
        report["error"] = f"sidecar at {base} did not answer: {type(exc).__name__}"
    return report


class _SidecarHttp:
    """The app's one HTTP client to its sidecar: made at the first request, closed at shutdown.

    It sends the sidecar's API token (DAPR_API_TOKEN) when there is one: the metadata API needs
    it, only daprd's health routes are open."""

    def __init__(
        self, settings: ServiceSettings, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def get(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=TIMEOUT_SECONDS,
                transport=self._transport,
                headers=self._settings.dapr_http_headers,
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def router(
    settings: ServiceSettings, transport: httpx.AsyncBaseTransport | None = None
) -> APIRouter:
    """The route, with one HTTP client per app; `transport` lets a test stand in for the sidecar.

    The router's lifespan closes the client when the app shuts down (`include_router` merges it
    into the app's own lifespan).
    """
    http = _SidecarHttp(settings, transport)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.aclose()

    routes = APIRouter(lifespan=lifespan)

    @routes.get(ROUTE, include_in_schema=False)
    async def platform_metadata() -> dict[str, Any]:
        return await sidecar_report(settings, http.get())

    return routes
