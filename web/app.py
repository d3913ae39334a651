"""The storefront: server-rendered pages over the shop's services.

Composition root of web: the lifespan opens the sidecar connection (one DaprClient, one HTTP
client for service invocation) and builds the gateways; routes render Jinja2 templates.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Protocol

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from sidecart.service import pubsub
from sidecart.service.observability import instrument, shutdown_tracing
from web.dapr_adapters import dapr_ports, register_subscriptions
from web.domain import Cache, ProductPage
from web.ports import Ports
from web.schemas import CatalogChangedIn
from web.settings import WebSettings

log = logging.getLogger("web")
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def _ports(request: Request) -> Ports:
    return request.app.state.ports  # type: ignore[no-any-return]


PortsDep = Annotated[Ports, Depends(_ports)]


class PortsFactory(Protocol):
    def __call__(self, settings: WebSettings) -> AbstractAsyncContextManager[Ports]: ...


def create_app(settings: WebSettings, make_ports: PortsFactory = dapr_ports) -> FastAPI:
    product_pages: Cache[ProductPage] = Cache(settings.cache_ttl_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with make_ports(settings) as ports:
            app.state.ports = ports
            yield
        shutdown_tracing()

    app = FastAPI(title="Sidecart", lifespan=lifespan, docs_url=None, redoc_url=None)
    instrument(app, settings, excluded="_healthz,metrics,static")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def on_catalog_changed(event: pubsub.CloudEvent[CatalogChangedIn]) -> pubsub.Status:
        dropped = product_pages.clear()
        log.info(
            "catalog changed, product cache dropped",
            extra={"products": event.data.product_ids, "entries": dropped},
        )
        return pubsub.Status.SUCCESS

    register_subscriptions(app, settings, on_catalog_changed=on_catalog_changed)

    @app.get("/_healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    async def home(
        request: Request,
        p: PortsDep,
        q: Annotated[str, Query(max_length=100)] = "",
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    ) -> HTMLResponse:
        result = await product_pages.get(
            ("list", q, page), lambda: p.catalog.list_products(q, page, settings.page_size)
        )
        return templates.TemplateResponse(request, "home.html", {"page": result, "query": q})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "message": exc.detail},
            status_code=exc.status_code,
        )

    return app
