"""The storefront: server-rendered pages over the shop's services, working with JavaScript off.

Composition root of web: the lifespan opens the sidecar connection (one DaprClient, one HTTP
client for service invocation) and builds the gateways; the routes live in web/views/; this
module wires settings, middleware, one error page for every failure, and the subscriptions.
"""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from sidecart.service import metrics, pubsub
from sidecart.service.composition import PortsFactory, ports_lifespan
from sidecart.service.observability import instrument
from web.currency import load_rates
from web.dapr_adapters import dapr_ports, register_subscriptions
from web.domain import Cache, DeadLetter, RejectedError, UpstreamError, redact_secrets
from web.forms import InvalidFormError
from web.middleware import BodyLimit, SecurityHeaders, ShopperSession
from web.pages import WebContext, error_page, make_templates, refuse_cross_site, see_other, utc_now
from web.passwords import parse_hash
from web.ports import Ports
from web.schemas import AnyData, CatalogChangedIn
from web.security import Keys
from web.settings import WebSettings
from web.views import admin, orders, shop

log = logging.getLogger("web")
HERE = Path(__file__).parent


def _context(settings: WebSettings) -> WebContext:
    """Everything the routes share, checked before the app serves its first request."""
    rates = load_rates(settings.currency_rates_file)
    if settings.default_currency not in rates:
        raise ValueError(
            f"WEB_DEFAULT_CURRENCY {settings.default_currency} has no rate in "
            f"{settings.currency_rates_file}"
        )
    if settings.secret_key is None:
        log.warning(
            "WEB_SECRET_KEY is not set: using a random key, so cookies end when web restarts"
        )
    secret = (
        settings.secret_key.get_secret_value() if settings.secret_key else secrets.token_hex(32)
    )
    stored = (
        settings.admin_password_hash.get_secret_value() if settings.admin_password_hash else None
    )
    return WebContext(
        settings=settings,
        rates=rates,
        templates=make_templates(str(HERE / "templates"), rates),
        product_pages=Cache(settings.cache_ttl_seconds),
        products=Cache(settings.cache_ttl_seconds),
        keys=Keys(secret, stored),
        admin_hash=parse_hash(stored) if stored else None,
        clock=utc_now,
    )


def _messages(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = [str(p) for p in error.get("loc", ()) if p not in {"query", "path", "body"}]
        parts.append(f"{'.'.join(where) or 'request'}: {error.get('msg', 'is not valid')}")
    return "; ".join(parts)


def _add_error_pages(app: FastAPI) -> None:
    """One error page for every failure; input errors name the field, and log no traceback."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 422, _messages(exc))

    @app.exception_handler(InvalidFormError)
    async def bad_form(request: Request, exc: InvalidFormError) -> Response:
        return error_page(request, 422, str(exc))

    @app.exception_handler(RejectedError)
    async def rejected(request: Request, exc: RejectedError) -> Response:
        return error_page(request, 422, str(exc))

    @app.exception_handler(admin.AdminLoginRequiredError)
    async def login_first(request: Request, exc: admin.AdminLoginRequiredError) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return see_other(f"/admin/login?next={quote(exc.next_path, safe='/')}")
        return error_page(request, 401, "Log in as the admin first.")

    @app.exception_handler(UpstreamError)
    async def upstream(request: Request, exc: UpstreamError) -> Response:
        status = 503 if exc.unavailable else 502
        log.warning(
            "upstream failed",
            extra={"service": exc.service, "error": exc.detail, "path": request.url.path},
        )
        return error_page(
            request,
            status,
            f"The {exc.service} service is not answering right now. Please try again shortly.",
        )

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        # A bug, not bad input: the server logs it once, with its traceback, after this page.
        return error_page(request, 500, "Something went wrong on our side.")


def create_app(
    settings: WebSettings, make_ports: PortsFactory[WebSettings, Ports] = dapr_ports
) -> FastAPI:
    web = _context(settings)
    # Only the services' lifespan is shared: web's pages need their own app (no API docs, a
    # cross-site check on every route, `/_healthz`, the app token on daprd's routes only).
    app = FastAPI(
        title="Sidecart",
        lifespan=ports_lifespan(settings, make_ports),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(refuse_cross_site)],
    )
    app.state.web = web
    instrument(app, settings, excluded="_healthz,metrics,static", serves_browsers=True)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # Outermost last: headers on every answer, the shopper known to every page, then the cap.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, error_page=error_page)
    app.add_middleware(ShopperSession, keys=web.keys, secure=settings.cookie_secure)
    app.add_middleware(SecurityHeaders)
    _add_error_pages(app)

    async def on_catalog_changed(event: pubsub.CloudEvent[CatalogChangedIn]) -> pubsub.Status:
        dropped = web.drop_cached_products()
        log.info(
            "catalog changed, product cache dropped",
            extra={"products": event.data.product_ids, "entries": dropped},
        )
        return pubsub.Status.SUCCESS

    async def on_dead_letter(event: pubsub.CloudEvent[AnyData]) -> pubsub.Status:
        data, redacted = redact_secrets(event.data.root)  # never keep a card token
        letter = DeadLetter(
            id=event.id,
            topic=event.topic,
            pubsub=event.pubsubname or settings.pubsub,
            type=event.type,
            source=event.source,
            data=json.dumps(data),
            received_at=web.clock(),
            redacted=redacted,
        )
        ports: Ports = app.state.ports
        if await ports.dead_letters.add(letter):
            metrics.message_dead_lettered(letter.topic)
            log.warning(
                "dead letter kept for the admin",
                extra={"message_id": letter.id, "topic": letter.topic, "type": letter.type},
            )
        return pubsub.Status.SUCCESS

    register_subscriptions(
        app, settings, on_catalog_changed=on_catalog_changed, on_dead_letter=on_dead_letter
    )

    @app.get("/_healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(shop.router)
    app.include_router(orders.router)
    app.include_router(admin.login)
    app.include_router(admin.router)
    return app
