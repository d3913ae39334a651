"""`GET /_platform/metadata`: an app's own sidecar, as its metadata and health APIs describe it.

Every service gets the route from `observability.instrument()`. Web's admin invokes it on each
app id through Dapr service invocation, so one page shows every sidecar's components,
subscriptions and health. Only the fields that page needs are passed on: the sidecar's
`extended` metadata (the app's command line, process ids) stays inside the app.
"""

from __future__ import annotations

import logging
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


async def sidecar_report(
    settings: ServiceSettings, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, Any]:
    """`{"app_id", "healthy", "health_status", "metadata", "error"?}` of this app's sidecar."""
    base = f"{settings.dapr_http_url}/v1.0"
    report: dict[str, Any] = {"app_id": settings.app_id, "healthy": False, "metadata": None}
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=transport) as http:
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


def router(
    settings: ServiceSettings, transport: httpx.AsyncBaseTransport | None = None
) -> APIRouter:
    """The route; `transport` lets a test stand in for the sidecar."""
    routes = APIRouter()

    @routes.get(ROUTE, include_in_schema=False)
    async def platform_metadata() -> dict[str, Any]:
        return await sidecar_report(settings, transport)

    return routes
