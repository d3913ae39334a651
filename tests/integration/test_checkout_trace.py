"""One checkout is one trace: a shopper orders through web, and Zipkin holds one trace with the
app and sidecar spans of web, ordering, catalog, payment and notification, pub/sub deliveries
included; the same trace id finds the checkout's log lines in the log store. Six apps beside six
real daprd sidecars, Redis, Zipkin, Prometheus and VictoriaLogs: nothing mocked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from sidecart import logstore
from sidecart.testing import RunningStack, running_stack
from sidecart.testing import eventually as wait_for
from tests.conftest import RUN_FILE

APPS = {"web", "catalog", "cart", "ordering", "payment", "notification"}
IN_THE_TRACE = {"web", "ordering", "catalog", "payment", "notification"}
# Each hop of the checkout after the outbox, as the topic its delivery span names.
TOPICS = ("order-placed", "stock-reserved", "payment-requested", "payment-succeeded")
CONFIRMED_TOPIC = "order-confirmed"


@pytest.fixture(scope="module")
def traced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    env = {"WEB_SECRET_KEY": uuid.uuid4().hex * 2, "WEB_ORDER_POLL_SECONDS": "0.3"}
    with running_stack(
        RUN_FILE,
        tmp_path_factory.mktemp("traced"),
        apps=APPS,
        env=env,
        profile="redis",
        observability=True,
    ) as stack:
        yield stack


# This module's patience with asynchronous outcomes.
eventually = partial(wait_for, timeout=60.0, interval=0.5)


def place_order(stack: RunningStack) -> str:
    """A browser's checkout: add to the cart, submit the form; the order id from the redirect."""
    with httpx.Client(base_url=stack.app_url("web"), timeout=30.0) as shopper:
        added = shopper.post("/cart", data={"product_id": "OLJCESPC7Z", "quantity": "1"})
        assert added.status_code == 303, added.text
        placed = shopper.post(
            "/cart/checkout",
            data={
                "email": "ada@example.com",
                "street_address": "1 Analytical Way",
                "zip_code": "N1 9GU",
                "city": "London",
                "state": "London",
                "country": "United Kingdom",
                "credit_card_number": "4242 4242 4242 4242",
                "credit_card_expiration_month": "12",
                "credit_card_expiration_year": "2030",
                "credit_card_cvv": "123",
            },
        )
        assert placed.status_code == 303, placed.text
        return str(placed.headers["location"]).removeprefix("/order/")


@pytest.fixture(scope="module")
def checkout(traced_stack: RunningStack) -> tuple[str, str]:
    """(order id, trace id): the trace id as an operator finds it, from the order's log line."""
    order_id = place_order(traced_stack)

    def trace_of_the_order() -> str:
        records = logstore.query(
            traced_stack.log_store_url, f'order_id:="{order_id}" service:web trace_id:*'
        )
        assert records, f"no log line of web with order_id {order_id} yet"
        return str(records[0]["trace_id"])

    return order_id, str(eventually(trace_of_the_order))


def zipkin_trace(stack: RunningStack, trace_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.zipkin_url}/api/v2/trace/{trace_id}")
    assert response.status_code == 200, response.text
    spans = response.json()
    assert isinstance(spans, list)
    return spans


def is_sidecar_span(span: dict[str, Any]) -> bool:
    """daprd's spans carry its instrumentation scope; the apps' carry their libraries'."""
    return bool(span.get("tags", {}).get("otel.scope.name") == "dapr-diagnostics")


def test_one_trace_holds_app_and_sidecar_spans_of_every_service_and_every_delivery(
    traced_stack: RunningStack, checkout: tuple[str, str]
) -> None:
    _, trace_id = checkout

    def complete() -> list[dict[str, Any]]:
        spans = zipkin_trace(traced_stack, trace_id)
        app = {s["localEndpoint"]["serviceName"] for s in spans if not is_sidecar_span(s)}
        sidecar = {s["localEndpoint"]["serviceName"] for s in spans if is_sidecar_span(s)}
        assert app >= IN_THE_TRACE, f"app spans of {sorted(IN_THE_TRACE - app)} missing"
        assert sidecar >= IN_THE_TRACE, f"sidecar spans of {sorted(IN_THE_TRACE - sidecar)} missing"
        names = " ".join(s.get("name", "") for s in spans)
        for topic in (*TOPICS, CONFIRMED_TOPIC):
            assert topic in names, f"no span of the {topic} delivery"
        return spans

    spans = eventually(complete, timeout=90)
    assert {s["traceId"] for s in spans} == {trace_id}
    handlers = {
        (s["localEndpoint"]["serviceName"], s["name"])
        for s in spans
        if s["name"].startswith("handle ")
    }
    assert ("catalog", "handle order-placed") in handlers
    assert ("payment", "handle payment-requested") in handlers
    assert ("notification", f"handle {CONFIRMED_TOPIC}") in handlers


def test_the_orders_trace_id_finds_its_lines_from_four_services_and_their_sidecars(
    traced_stack: RunningStack, checkout: tuple[str, str]
) -> None:
    _, trace_id = checkout

    def lines_everywhere() -> None:
        records = logstore.trace_lines(traced_stack.log_store_url, trace_id)
        apps = {str(r["service"]) for r in records if r["source"] == "app"}
        sidecars = {str(r["service"]) for r in records if r["source"] == "sidecar"}
        both = apps & sidecars & IN_THE_TRACE
        assert len(both) >= 4, f"app and sidecar lines only for {sorted(both)}"

    eventually(lines_everywhere, timeout=60)
