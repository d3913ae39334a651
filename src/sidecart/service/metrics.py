"""Prometheus metrics: RED per route for every service, and the shop's business counters.

`instrument(app, settings)` adds the RED middleware and `GET /metrics` to every service, so a
service writes no metrics code for its routes. Business events are counted by calling the small
functions below from the service that owns the event:

    from sidecart.service import metrics
    metrics.order_placed()
    metrics.order_cancelled("payment_declined")

Label values are low-cardinality by construction: the route is the template
(`/products/{product_id}`), never the raw path; reasons and topics are a handful of words.
The Prometheus scrape adds `service` (the app id) and `source="app"` to every series.

A business counter split by a label with a closed set of values (`OrderCancelReason`,
`PaymentDeclineReason`, `CartLineChange`) is exported at 0 for each value by the service that
owns it, in one line of its `create_app`:

    metrics.initialise_business_counters(metrics.ORDERS_CANCELLED)
"""

from __future__ import annotations

import enum
import logging
import re
import time

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sidecart.service.spans import annotate_known

# The `_created` series double every counter's series and no rule or dashboard uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# --- RED: rate, errors, duration per route -------------------------------------------------

REQUESTS = Counter(
    "sidecart_http_requests",
    "HTTP requests served, by route template and status code.",
    ["method", "route", "status_code"],
)
ERRORS = Counter(
    "sidecart_http_request_errors",
    "HTTP requests that ended in a 5xx answer or an unhandled exception.",
    ["method", "route"],
)
DURATION = Histogram(
    "sidecart_http_request_duration_seconds",
    "Time from the first byte of the request to the end of the answer.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

UNMATCHED = "unmatched"
access_log = logging.getLogger("sidecart.access")


def _route_template(app: FastAPI, served: Scope, original: Scope) -> str:
    """The matched route's template; `unmatched` for a 404, so random paths add no series.

    FastAPI's routes leave themselves in the scope; for the others (mounts, plain Starlette
    routes such as /metrics) the routes are matched again against the scope as it came in.
    """
    route = served.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return str(route.path)
    for candidate in app.router.routes:
        match, _ = candidate.matches(original)
        if match != Match.NONE:
            return str(getattr(candidate, "path", UNMATCHED)) or UNMATCHED
    return UNMATCHED


class RedMetricsMiddleware:
    """RED metrics and one `served GET /route 200 in 1.2 ms` log line per request.

    Pure ASGI (no body buffering, streaming answers such as SSE are untouched). It runs inside
    the request's server span, so the log line carries the trace and span ids: with daprd's span
    lines it is what `sidecart logs TRACE_ID` finds of each service a request crossed.
    """

    def __init__(
        self, app: ASGIApp, fastapi_app: FastAPI, excluded: re.Pattern[str] | None
    ) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.excluded = excluded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.excluded is not None and self.excluded.search(str(scope.get("path", "")))
        ):
            await self.app(scope, receive, send)
            return
        original = dict(scope)
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                # The server span ends with the body: name the route's ids while it records.
                annotate_known(scope.get("path_params") or {})
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException:
            status = 500
            raise
        finally:
            method = str(scope.get("method", ""))
            route = _route_template(self.fastapi_app, scope, original)
            elapsed = time.perf_counter() - started
            REQUESTS.labels(method, route, str(status)).inc()
            if status >= 500:
                ERRORS.labels(method, route).inc()
            DURATION.labels(method, route).observe(elapsed)
            access_log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "served %s %s %d in %.1f ms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status_code": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def add_red_metrics(app: FastAPI, excluded: str = "") -> None:
    """RED middleware plus `GET /metrics` (the default registry: app and business metrics).

    `excluded` is the comma-separated list of path patterns that OpenTelemetry's
    `excluded_urls` takes too (health probes, /metrics itself): they are not counted.
    """
    patterns = [p.strip() for p in excluded.split(",") if p.strip()]
    regex = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
    app.add_middleware(RedMetricsMiddleware, fastapi_app=app, excluded=regex)
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)


# --- business metrics ----------------------------------------------------------------------


class OrderCancelReason(enum.StrEnum):
    """`reason` of `sidecart_orders_cancelled_total` (ordering's `CancelReason`)."""

    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_DECLINED = "payment_declined"


class PaymentDeclineReason(enum.StrEnum):
    """`reason` of `sidecart_payment_declines_total` (payment's `DeclineCode`)."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_CARD = "unknown_card"


class CartLineChange(enum.StrEnum):
    """`change` of `sidecart_cart_lines_total`: one count per cart line, per stored change.

    A line is one product in one cart. The shopper's requests count by what they did to the
    line; a request that changes no line (the same quantity again, removing a product that is
    not in the cart, clearing an empty cart, a refused request) counts nothing.
    """

    ADDED = "added"
    """A product that was not in the cart now is (POST an item, or PUT a quantity > 0)."""
    UPDATED = "updated"
    """A line's quantity changed and the line stays (POST more of it, PUT another quantity)."""
    REMOVED = "removed"
    """The shopper took a line out (DELETE it, PUT 0); clearing a cart counts each line."""
    ORDERED = "ordered"
    """A placed order took units out of the line (OrderPlaced): the line is gone, or holds
    what was added since the checkout. A redelivered OrderPlaced counts nothing."""


ORDERS_PLACED = Counter("sidecart_orders_placed", "Orders accepted by ordering (new ones only).")
ORDERS_CONFIRMED = Counter("sidecart_orders_confirmed", "Orders that reached Confirmed.")
ORDERS_CANCELLED = Counter(
    "sidecart_orders_cancelled",
    "Orders that ended Cancelled, by reason: out_of_stock, payment_declined.",
    ["reason"],
)
PAYMENT_DECLINES = Counter(
    "sidecart_payment_declines",
    "Charges the card issuer declined, by reason: card_declined, insufficient_funds, unknown_card.",
    ["reason"],
)
CART_LINES = Counter(
    "sidecart_cart_lines",
    "Cart lines changed, one per line and change: added (a product new to the cart), updated "
    "(its quantity changed, the line stays), removed (by the shopper; a cleared cart counts "
    "each line), ordered (a placed order took units out of it). No change, no count.",
    ["change"],
)
DEAD_LETTERS = Counter(
    "sidecart_messages_dead_lettered",
    "Messages that reached the dead-letter topic, by the topic they were first published on.",
    ["topic"],
)
PUBSUB_MESSAGES = Counter(
    "sidecart_pubsub_messages",
    "Pub/sub deliveries handled by this app, by topic and the status answered to Dapr.",
    ["topic", "status"],
)

KNOWN_LABEL_VALUES: dict[Counter, tuple[str, ...]] = {
    ORDERS_CANCELLED: tuple(OrderCancelReason),
    PAYMENT_DECLINES: tuple(PaymentDeclineReason),
    CART_LINES: tuple(CartLineChange),
}
"""The business counters whose label takes a closed set of values, and those values."""


def initialise_business_counters(*counters: Counter) -> None:
    """Export each known label value of `counters` at 0; call it in the owning service's
    `create_app`.

    A labelled series appears with its first event, at 1, and `increase()` and `rate()` see no
    change in a series' first sample: without this, the first cancellation, decline or line
    change of each kind would be missing from every panel and rule. Counters with an open set
    of values (topics) cannot be initialised and are refused, as is any other counter.
    """
    for counter in counters:
        values = KNOWN_LABEL_VALUES.get(counter)
        if values is None:
            raise ValueError(f"{counter!r} has no known label values to export at 0")
        for value in values:
            counter.labels(value)


def order_placed() -> None:
    ORDERS_PLACED.inc()


def order_confirmed() -> None:
    ORDERS_CONFIRMED.inc()


def order_cancelled(reason: str) -> None:
    """`reason`: an `OrderCancelReason` (docs/architecture.md)."""
    ORDERS_CANCELLED.labels(reason).inc()


def payment_declined(reason: str) -> None:
    """`reason`: a `PaymentDeclineReason`."""
    PAYMENT_DECLINES.labels(reason).inc()


def cart_line_changed(change: CartLineChange, count: int = 1) -> None:
    """`count` lines had this `change` (see `CartLineChange`); 0 counts nothing."""
    CART_LINES.labels(change).inc(count)


def message_dead_lettered(topic: str) -> None:
    """Call from the `dead-letters` subscriber, once per message, with its original topic."""
    DEAD_LETTERS.labels(topic or "unknown").inc()


def pubsub_message_handled(topic: str, status: str) -> None:
    """Counted by `sidecart.service.pubsub.endpoint` for every delivery; not for services."""
    PUBSUB_MESSAGES.labels(topic or "unknown", status).inc()
