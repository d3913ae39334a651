"""The admin pages under /admin, behind a password login and a signed session cookie.

Catalog edit, every order with its status, the emails sent, dead letters (with replay) and
the platform: every sidecar's components, subscriptions and health.
"""

from __future__ import annotations

import json
import re
from typing import Annotated
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from sidecart.service.links import ObservabilityLinks
from web import forms
from web.domain import Price, Product, RejectedError, redact_secrets
from web.login_throttle import ADMIN_ACCOUNT, LoginThrottle, Refusal, address_of, describe_wait
from web.pages import PortsDep, WebContext, WebDep, form_fields, is_admin, log, render, see_other
from web.passwords import verify_password
from web.ports import Ports
from web.security import ADMIN_COOKIE, local_path
from web.views.orders import Before

LINKS = ObservabilityLinks.from_env()

LETTER_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
MAX_CATALOG_PAGES = 50


class AdminLoginRequiredError(Exception):
    """No valid admin session: a browser is sent to the login page, anything else gets 401."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def require_admin(request: Request) -> None:
    if not is_admin(request):
        query = f"?{request.url.query}" if request.url.query else ""
        raise AdminLoginRequiredError(request.url.path + query)


login = APIRouter(prefix="/admin")
router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])


# --- login ----------------------------------------------------------------------------------


@login.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request, web: WebDep, next: Annotated[str, Query(max_length=300)] = "/admin"
) -> HTMLResponse:
    return render(
        request,
        "admin/login.html",
        {"next": local_path(next, "/admin", "/admin"), "enabled": web.admin_hash is not None},
        200 if web.admin_hash is not None else 503,
    )


def _login_throttle(web: WebContext, p: Ports) -> LoginThrottle:
    settings = web.settings
    return LoginThrottle(
        p.login_attempts, settings.login_backoff("address"), settings.login_backoff("account")
    )


def _login_page(
    request: Request, target: str, status: int, errors: dict[str, str] | None = None
) -> HTMLResponse:
    context = {"next": target, "enabled": True, "errors": errors or {}}
    return render(request, "admin/login.html", context, status)


def _throttled(request: Request, target: str, refusal: Refusal, client: str) -> HTMLResponse:
    log.warning(
        "admin login refused: too many attempts",
        extra={"client": client, "limit": refusal.scope, "retry_after": refusal.retry_after},
    )
    response = render(
        request,
        "admin/login.html",
        {
            "next": target,
            "enabled": True,
            "throttled": refusal.scope,
            "wait": describe_wait(refusal.retry_after),
        },
        429,
    )
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


@login.post("/login")
async def log_in(request: Request, web: WebDep, p: PortsDep) -> Response:
    fields = await form_fields(request)
    target = local_path(fields.get("next"), "/admin", "/admin")
    if web.admin_hash is None:
        raise HTTPException(503, "Admin login is off: set ADMIN_PASSWORD_HASH to turn it on.")
    stored = web.admin_hash
    try:
        password = forms.admin_password(fields)
    except forms.InvalidFormError as exc:
        return _login_page(request, target, 422, exc.errors)
    client = request.client.host if request.client else ""
    address = address_of(client)
    throttle = _login_throttle(web, p)
    # Counted before the check, so concurrent guesses cannot all pass before one is counted.
    refusal = await throttle.attempt(address, ADMIN_ACCOUNT, web.clock().timestamp())
    if refusal is not None:
        return _throttled(request, target, refusal, client)
    # Every attempt let through costs one full key derivation and a constant-time comparison.
    if not await to_thread.run_sync(verify_password, password, stored):
        log.warning("admin login failed", extra={"client": client})
        return _login_page(request, target, 401, {"password": "wrong password"})
    await throttle.succeeded(address, ADMIN_ACCOUNT)
    log.info("admin logged in")
    response = see_other(target)
    response.set_cookie(
        ADMIN_COOKIE,
        web.keys.admin_cookie(),
        max_age=web.settings.admin_session_seconds,
        path="/admin",
        secure=web.settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return response


@login.post("/logout")
async def log_out() -> Response:
    response = see_other("/")
    response.delete_cookie(ADMIN_COOKIE, path="/admin", httponly=True, samesite="strict")
    return response


# --- pages ----------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    return render(request, "admin/index.html")


async def all_products(p: Ports) -> list[Product]:
    products: list[Product] = []
    page = 1
    while page <= MAX_CATALOG_PAGES:
        result = await p.catalog.list_products("", page, 100)
        products.extend(result.items)
        if result.page >= result.pages:
            break
        page += 1
    return products


@router.get("/catalog", response_class=HTMLResponse)
async def catalog(request: Request, p: PortsDep) -> HTMLResponse:
    return render(request, "admin/catalog.html", {"products": await all_products(p)})


async def _product(p: Ports, product_id: str) -> Product:
    product = (
        await p.catalog.get_product(product_id) if forms.PRODUCT_ID.fullmatch(product_id) else None
    )
    if product is None:
        raise HTTPException(404, f"There is no product {product_id!r}.")
    return product


def _edit_values(product: Product) -> dict[str, str]:
    return {
        "name": product.name,
        "description": product.description,
        "categories": ", ".join(product.categories),
        "price": str(product.price.amount),
        "currency": product.price.currency,
        "stock": str(product.stock),
        "stock_seen": str(product.stock),
        "picture": product.picture,
    }


@router.get("/catalog/{product_id}", response_class=HTMLResponse)
async def edit_product(
    request: Request, product_id: str, p: PortsDep, saved: bool = False
) -> HTMLResponse:
    product = await _product(p, product_id)
    return render(
        request,
        "admin/product.html",
        {"product": product, "values": _edit_values(product), "errors": {}, "saved": saved},
    )


@router.post("/catalog/{product_id}")
async def save_product(request: Request, product_id: str, web: WebDep, p: PortsDep) -> Response:
    product = await _product(p, product_id)
    fields = await form_fields(request)
    try:
        edit = forms.product_edit(fields)
        await p.catalog.update_product(
            Product(
                id=product.id,
                name=edit.name,
                description=edit.description,
                categories=edit.categories,
                price=Price(edit.price, edit.currency),
                stock=edit.stock,
                picture=edit.picture,
            ),
            edit.stock_seen,
        )
    except forms.InvalidFormError as exc:
        errors = exc.errors
    except RejectedError as exc:
        errors = {exc.field: exc.message}
    else:
        web.drop_cached_products()
        log.info("product edited by the admin", extra={"product_id": product.id})
        return see_other(f"/admin/catalog/{quote(product.id, safe='')}?saved=true")
    return render(
        request,
        "admin/product.html",
        {"product": product, "values": fields, "errors": errors, "saved": False},
        422,
    )


@router.get("/orders", response_class=HTMLResponse)
async def orders(request: Request, web: WebDep, p: PortsDep, before: Before = "") -> HTMLResponse:
    page = await p.ordering.recent_orders(web.settings.page_size, before or None)
    # Each order's checkout trace in Zipkin and its log lines in the log UI; an order without a
    # stored trace id is found in the logs by its id instead.
    rows = [
        (
            order,
            LINKS.trace(order.trace_id),
            LINKS.logs(order.trace_id) or LINKS.order_logs(order.id),
        )
        for order in page.orders
    ]
    return render(
        request,
        "admin/orders.html",
        {"rows": rows, "before": before, "next_before": page.next_before},
    )


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(
    request: Request,
    p: PortsDep,
    order_id: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = "",
) -> HTMLResponse:
    sent = await p.notifications.sent(order_id or None)
    return render(request, "admin/notifications.html", {"sent": sent, "order_id": order_id})


def _pretty(data: str, limit: int = 4000) -> str:
    """The payload to show, secrets blanked (letters kept before web redacted them too)."""
    try:
        text = json.dumps(redact_secrets(json.loads(data))[0], indent=2, sort_keys=True)
    except ValueError:
        text = data
    return text if len(text) <= limit else text[:limit] + "\n..."


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters(request: Request, web: WebDep, p: PortsDep) -> HTMLResponse:
    letters = await p.dead_letters.all()
    return render(
        request,
        "admin/dead_letters.html",
        {
            "letters": [(letter, _pretty(letter.data)) for letter in letters],
            "dead_letter_topic": web.settings.dead_letter_topic,
            "replay_topics": web.settings.replay_topics,
        },
    )


async def _replay(web: WebContext, p: Ports, letter_id: str) -> None:
    letter = await p.dead_letters.get(letter_id) if LETTER_ID.fullmatch(letter_id) else None
    if letter is None:
        raise HTTPException(404, f"There is no dead letter {letter_id!r}.")
    refusal = letter.replay_refusal(web.settings.replay_topics)
    if refusal:
        raise HTTPException(409, refusal)
    # Claim first (one ETag-checked write): a double click publishes once.
    if not await p.dead_letters.mark_replayed(letter.id, web.clock()):
        raise HTTPException(409, "This message was replayed already.")
    try:
        await p.publisher.publish(letter.pubsub or web.settings.pubsub, letter.topic, letter.data)
    except Exception:
        await p.dead_letters.unmark_replayed(letter.id)
        raise
    log.info("dead letter replayed", extra={"message_id": letter.id, "topic": letter.topic})


@router.post("/dead-letters/{letter_id}/replay")
async def replay(letter_id: str, web: WebDep, p: PortsDep) -> Response:
    await _replay(web, p, letter_id)
    return see_other("/admin/dead-letters")


@router.get("/platform", response_class=HTMLResponse)
async def platform(request: Request, web: WebDep, p: PortsDep) -> HTMLResponse:
    reports = await p.platform.reports(web.settings.platform_app_ids)
    return render(request, "admin/platform.html", {"reports": reports})
