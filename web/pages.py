"""What every page route shares: the app's context, dependencies, rendering and redirects.

Routes declare what they need (`p: PortsDep, shopper: ShopperDep, ...`); the composition root
(web.app) puts one `WebContext` and one `Ports` on the app's state at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from sidecart.service.composition import ports_dependency
from web.currency import Rates
from web.domain import Cache, Price, Product, ProductPage
from web.passwords import PasswordHash
from web.ports import Ports
from web.security import ADMIN_COOKIE, CURRENCY_COOKIE, Keys, Shopper, cross_site_reason
from web.settings import WebSettings

log = logging.getLogger("web")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebContext:
    settings: WebSettings
    rates: Rates
    templates: Jinja2Templates
    product_pages: Cache[ProductPage]
    products: Cache[Product | None]
    keys: Keys
    admin_hash: PasswordHash | None
    clock: Callable[[], datetime] = utc_now

    def drop_cached_products(self) -> int:
        return self.product_pages.clear() + self.products.clear()

    async def product(self, ports: Ports, product_id: str) -> Product | None:
        return await self.products.get(product_id, lambda: ports.catalog.get_product(product_id))


def make_templates(directory: str, rates: Rates) -> Jinja2Templates:
    templates = Jinja2Templates(directory=directory)

    @pass_context
    def money(context: Context, price: Price | None) -> str:
        """A price in the shopper's currency, as the page's `currency` says."""
        if price is None:
            return ""
        return rates.format(rates.convert(price, context.get("currency") or price.currency))

    def amount(price: Price | None) -> str:
        """A price in its own currency (already converted, or what the card is charged)."""
        return "" if price is None else rates.format(price)

    templates.env.filters["money"] = money
    templates.env.filters["amount"] = amount
    return templates


def web_context(request: Request) -> WebContext:
    return request.app.state.web  # type: ignore[no-any-return]


def shopper_id(request: Request) -> str:
    shopper: Shopper = request.state.shopper
    return shopper.id


def currency(request: Request) -> str:
    web = web_context(request)
    chosen = request.cookies.get(CURRENCY_COOKIE, "")
    return chosen if chosen in web.rates else web.settings.default_currency


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def is_admin(request: Request) -> bool:
    web = web_context(request)
    return web.admin_hash is not None and web.keys.is_admin(
        request.cookies.get(ADMIN_COOKIE), web.settings.admin_session_seconds
    )


async def refuse_cross_site(request: Request) -> None:
    """A dependency of every route: a browser POST from another site is a forgery (403)."""
    reason = cross_site_reason(
        request.method,
        request.headers,
        own_origin(request),
        web_context(request).settings.allowed_origins,
    )
    if reason is not None:
        log.warning(
            "cross-site request refused",
            extra={"path": request.url.path, "method": request.method, "reason": reason},
        )
        raise HTTPException(403, "This form was sent from another site, so it was refused.")


WebDep = Annotated[WebContext, Depends(web_context)]
PortsDep = Annotated[Ports, Depends(ports_dependency(Ports))]
ShopperDep = Annotated[str, Depends(shopper_id)]
CurrencyDep = Annotated[str, Depends(currency)]


async def form_fields(request: Request) -> dict[str, str]:
    """The submitted form as text fields (a file where text belongs is ignored)."""
    async with request.form(max_files=0, max_fields=64) as form:
        return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    web = web_context(request)
    page = {
        "currency": currency(request),
        "currencies": web.rates.codes,
        "is_admin": is_admin(request),
        **(context or {}),
    }
    return web.templates.TemplateResponse(request, template, page, status_code=status_code)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message}, status)


def see_other(url: str) -> RedirectResponse:
    """Post/Redirect/Get: every successful POST answers 303 to the page that shows its result."""
    return RedirectResponse(url, status_code=303)
