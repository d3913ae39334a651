"""The only module of web that knows Dapr: invocation of the catalog, pub/sub subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from dapr.aio.clients import DaprClient
from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from sidecart.service import pubsub
from sidecart.service.dapr import connect_client
from web.domain import Product, ProductPage
from web.ports import Ports
from web.schemas import CatalogChangedIn, ProductIn, ProductPageIn
from web.settings import WebSettings


class UpstreamError(RuntimeError):
    """A service behind a sidecar failed or could not be reached."""


@dataclass
class Sidecar:
    client: DaprClient
    http: httpx.AsyncClient
    settings: WebSettings

    def method_url(self, app_id: str, path: str) -> str:
        return f"{self.settings.dapr_http_url}/v1.0/invoke/{app_id}/method/{path.lstrip('/')}"


class DaprCatalogGateway:
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar
        self._app = sidecar.settings.catalog_app_id

    async def _get(self, path: str, params: dict[str, str | int] | None = None) -> httpx.Response:
        try:
            response = await self._sidecar.http.get(
                self._sidecar.method_url(self._app, path), params=params
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"catalog unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise UpstreamError(f"catalog answered {response.status_code}")
        return response

    async def list_products(self, query: str, page: int, page_size: int) -> ProductPage:
        response = await self._get("products", {"q": query, "page": page, "page_size": page_size})
        response.raise_for_status()
        return ProductPageIn.model_validate_json(response.content).to_domain()

    async def get_product(self, product_id: str) -> Product | None:
        response = await self._get(f"products/{product_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return ProductIn.model_validate_json(response.content).to_domain()


@asynccontextmanager
async def dapr_ports(settings: WebSettings) -> AsyncIterator[Ports]:
    """Web's ports on Dapr: one DaprClient, one HTTP client for service invocation."""
    async with connect_client(settings) as client, httpx.AsyncClient(timeout=10.0) as http:
        HTTPXClientInstrumentor.instrument_client(http)
        car = Sidecar(client, http, settings)
        yield Ports(catalog=DaprCatalogGateway(car))


def register_subscriptions(
    app: FastAPI, settings: WebSettings, on_catalog_changed: pubsub.Handler[CatalogChangedIn]
) -> None:
    """Every topic web follows, each with its dead-letter topic, behind one /dapr/subscribe."""
    dapr_app = DaprApp(app)
    dapr_app.subscribe(
        pubsub=settings.pubsub,
        topic=settings.catalog_topic,
        route="/events/catalog-changed",
        dead_letter_topic=f"{settings.catalog_topic}.dead",
    )(pubsub.endpoint(CatalogChangedIn, on_catalog_changed))
