"""Browsing and the cart: Online Boutique's routes, so its load generator runs unchanged.

GET /  GET /product/{id}  GET /cart  POST /cart  POST /cart/update  POST /cart/remove
POST /cart/empty  POST /setCurrency  GET /logout
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web import forms
from web.currency import Rates
from web.domain import MAX_QUANTITY, CartLine, Price, Product, RejectedError, total
from web.pages import (
    CurrencyDep,
    PortsDep,
    ShopperDep,
    WebContext,
    WebDep,
    form_fields,
    log,
    own_origin,
    render,
    see_other,
)
from web.ports import Ports
from web.security import CURRENCY_COOKIE, SHOPPER_COOKIE, referer_path

router = APIRouter()


@dataclass(frozen=True)
class ShownLine:
    """A cart line as the shopper sees it: prices in the chosen currency."""

    line: CartLine
    unit: Price
    subtotal: Price


@dataclass(frozen=True)
class ShownCart:
    lines: tuple[ShownLine, ...]
    total: Price
    charged: Price | None  # the total in the catalog's currency, when it differs from `total`

    @property
    def count(self) -> int:
        return sum(shown.line.quantity for shown in self.lines)


def show_cart(lines: list[CartLine], rates: Rates, currency: str) -> ShownCart:
    shown = []
    for line in lines:
        unit = rates.convert(line.product.price, currency)
        shown.append(ShownLine(line, unit, unit.times(line.quantity)))
    shown_total = total([s.subtotal for s in shown], currency)
    sources = {line.product.price.currency for line in lines}
    charged = None
    if len(sources) == 1 and currency not in sources:
        (source,) = sources
        charged = total([line.product.price.times(line.quantity) for line in lines], source)
    return ShownCart(tuple(shown), shown_total, charged)


async def cart_lines(web: WebContext, p: Ports, shopper: str) -> list[CartLine]:
    """The shopper's cart joined with the catalog; a product the catalog dropped is skipped."""
    lines = []
    for item in await p.cart.items(shopper):
        product = await web.product(p, item.product_id)
        if product is None:
            log.warning("cart holds an unknown product", extra={"product_id": item.product_id})
            continue
        lines.append(CartLine(product, item.quantity))
    return lines


async def product_or_404(
    web: WebContext, p: Ports, product_id: str, field: str | None = None
) -> Product:
    product = await web.product(p, product_id) if forms.PRODUCT_ID.fullmatch(product_id) else None
    if product is None:
        named = f"{field}: there is" if field else "There is"
        raise HTTPException(404, f"{named} no product {product_id!r}.")
    return product


async def cart_page(
    request: Request,
    web: WebContext,
    p: Ports,
    shopper: str,
    currency: str,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The cart with its checkout form; after a failed POST, the errors and the input again."""
    cart = show_cart(await cart_lines(web, p, shopper), web.rates, currency)
    today = web.clock().date()
    shown_values = {
        "credit_card_expiration_month": str(today.month),
        "credit_card_expiration_year": str(today.year + 1),
        **(values or {}),
    }
    shown_values.setdefault("request_id", uuid.uuid4().hex)
    return render(
        request,
        "cart.html",
        {
            "cart": cart,
            "errors": errors or {},
            "values": shown_values,
            "years": range(today.year, today.year + 11),
            "max_quantity": MAX_QUANTITY,
        },
        status_code,
    )


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    web: WebDep,
    p: PortsDep,
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    q = q.strip()
    size = web.settings.page_size
    result = await web.product_pages.get(
        ("list", q, page), lambda: p.catalog.list_products(q, page, size)
    )
    return render(request, "home.html", {"page": result, "query": q})


@router.get("/product/{product_id}", response_class=HTMLResponse)
async def product(request: Request, product_id: str, web: WebDep, p: PortsDep) -> HTMLResponse:
    item = await product_or_404(web, p, product_id)
    return render(request, "product.html", {"product": item, "max_quantity": MAX_QUANTITY})


@router.get("/cart", response_class=HTMLResponse)
async def view_cart(
    request: Request, web: WebDep, p: PortsDep, shopper: ShopperDep, currency: CurrencyDep
) -> HTMLResponse:
    return await cart_page(request, web, p, shopper, currency)


@router.post("/cart")
async def add_to_cart(request: Request, web: WebDep, p: PortsDep, shopper: ShopperDep) -> Response:
    fields = await form_fields(request)
    try:
        wanted = forms.cart_item(fields)
    except forms.InvalidFormError as exc:
        if "product_id" in exc.errors:
            raise
        item = await product_or_404(web, p, fields.get("product_id", ""), "product_id")
        return _product_again(request, item, exc.errors, fields)
    item = await product_or_404(web, p, wanted.product_id, "product_id")
    if wanted.quantity > item.stock:
        message = f"only {item.stock} in stock" if item.stock else "this product is sold out"
        return _product_again(request, item, {"quantity": message}, fields)
    try:
        await p.cart.add(shopper, item.id, wanted.quantity)
    except RejectedError as exc:  # e.g. more of one product than a cart line holds
        return _product_again(request, item, {exc.field: exc.message}, fields)
    return see_other("/cart")


def _product_again(
    request: Request, item: Product, errors: dict[str, str], values: dict[str, str]
) -> HTMLResponse:
    return render(
        request,
        "product.html",
        {"product": item, "errors": errors, "values": values, "max_quantity": MAX_QUANTITY},
        422,
    )


@router.post("/cart/update")
async def change_quantity(
    request: Request, web: WebDep, p: PortsDep, shopper: ShopperDep, currency: CurrencyDep
) -> Response:
    fields = await form_fields(request)
    try:
        wanted = forms.cart_item(fields, allow_zero=True)
    except forms.InvalidFormError as exc:
        return await cart_page(
            request, web, p, shopper, currency, status_code=422, errors=exc.errors
        )
    try:
        if wanted.quantity == 0:
            await p.cart.remove(shopper, wanted.product_id)
        else:
            await p.cart.set_quantity(shopper, wanted.product_id, wanted.quantity)
    except RejectedError as exc:
        return await cart_page(
            request, web, p, shopper, currency, status_code=422, errors={exc.field: exc.message}
        )
    return see_other("/cart")


@router.post("/cart/remove")
async def remove_from_cart(request: Request, p: PortsDep, shopper: ShopperDep) -> Response:
    product_id = forms.product_id(await form_fields(request))
    await p.cart.remove(shopper, product_id)
    return see_other("/cart")


@router.post("/cart/empty")
async def empty_cart(p: PortsDep, shopper: ShopperDep) -> Response:
    await p.cart.empty(shopper)
    return see_other("/")


@router.post("/setCurrency")
async def set_currency(request: Request, web: WebDep) -> Response:
    code = forms.currency_code(await form_fields(request), web.rates.codes)
    response = see_other(referer_path(request.headers.get("referer"), own_origin(request)))
    response.set_cookie(
        CURRENCY_COOKIE,
        code,
        max_age=365 * 24 * 3600,
        path="/",
        secure=web.settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/logout")
async def logout() -> RedirectResponse:
    """Forget the shopper on this browser (Online Boutique's route; the cart stays behind)."""
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SHOPPER_COOKIE, path="/")
    response.delete_cookie(CURRENCY_COOKIE, path="/")
    return response
