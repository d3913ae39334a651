"""RED metrics per route template and `GET /metrics`, on a real FastAPI app (no sidecar)."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY, Counter

from sidecart.service import metrics


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def client_for(app: FastAPI, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def make_app() -> FastAPI:
    app = FastAPI()
    metrics.add_red_metrics(app, "healthz,metrics")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "missing":
            raise HTTPException(status_code=404)
        if thing_id == "broken":
            raise RuntimeError("boom")
        return {"id": thing_id}

    return app


async def test_requests_are_counted_by_route_template_not_raw_path() -> None:
    client = client_for(make_app())
    before = sample(
        "sidecart_http_requests_total", method="GET", route="/things/{thing_id}", status_code="200"
    )
    for thing_id in ("a", "b", "c"):
        assert (await client.get(f"/things/{thing_id}")).status_code == 200
    after = sample(
        "sidecart_http_requests_total", method="GET", route="/things/{thing_id}", status_code="200"
    )
    assert after - before == 3
    assert (
        sample("sidecart_http_requests_total", method="GET", route="/things/a", status_code="200")
        == 0
    )


async def test_unknown_paths_share_one_series() -> None:
    client = client_for(make_app())
    before = sample(
        "sidecart_http_requests_total", method="GET", route="unmatched", status_code="404"
    )
    await client.get("/no/such/path/1")
    await client.get("/no/such/path/2")
    after = sample(
        "sidecart_http_requests_total", method="GET", route="unmatched", status_code="404"
    )
    assert after - before == 2


async def test_a_crash_counts_as_an_error_and_a_404_does_not() -> None:
    client = client_for(make_app(), raise_app_exceptions=False)
    errors = {"method": "GET", "route": "/things/{thing_id}"}
    before = sample("sidecart_http_request_errors_total", **errors)
    assert (await client.get("/things/missing")).status_code == 404
    assert sample("sidecart_http_request_errors_total", **errors) == before
    assert (await client.get("/things/broken")).status_code == 500
    assert sample("sidecart_http_request_errors_total", **errors) == before + 1
    assert sample("sidecart_http_request_duration_seconds_count", **errors) >= 2


async def test_health_probes_and_scrapes_are_not_counted() -> None:
    client = client_for(make_app())
    await client.get("/healthz")
    await client.get("/metrics")
    assert (
        sample("sidecart_http_requests_total", method="GET", route="/healthz", status_code="200")
        == 0
    )
    assert (
        sample("sidecart_http_requests_total", method="GET", route="/metrics", status_code="200")
        == 0
    )


async def test_metrics_endpoint_serves_red_and_business_metrics() -> None:
    client = client_for(make_app())
    metrics.order_cancelled("out_of_stock")
    metrics.payment_declined("insufficient_funds")
    metrics.cart_line_changed(metrics.CartLineChange.ADDED, 2)
    metrics.message_dead_lettered("order-placed")
    await client.get("/things/x")
    body = await client.get("/metrics")
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("text/plain")
    text = body.text
    for name in (
        'sidecart_http_requests_total{method="GET",route="/things/{thing_id}",status_code="200"}',
        "sidecart_http_request_duration_seconds_bucket",
        'sidecart_orders_cancelled_total{reason="out_of_stock"}',
        'sidecart_payment_declines_total{reason="insufficient_funds"}',
        'sidecart_cart_lines_total{change="added"}',
        'sidecart_messages_dead_lettered_total{topic="order-placed"}',
        "sidecart_orders_placed_total",
        "sidecart_orders_confirmed_total",
    ):
        assert name in text
    assert "_created" not in text


async def test_each_request_leaves_one_log_line_with_route_and_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = client_for(make_app())
    with caplog.at_level(logging.INFO, logger="sidecart.access"):
        await client.get("/things/x")
    served = [r for r in caplog.records if r.name == "sidecart.access"]
    assert len(served) == 1
    assert served[0].getMessage().startswith("served GET /things/{thing_id} 200 in ")
    assert served[0].__dict__["route"] == "/things/{thing_id}"
    assert served[0].__dict__["status_code"] == 200


@pytest.mark.parametrize(
    ("counter", "metric", "label", "values"),
    [
        (
            metrics.ORDERS_CANCELLED,
            "sidecart_orders_cancelled_total",
            "reason",
            {"out_of_stock", "payment_declined"},
        ),
        (
            metrics.PAYMENT_DECLINES,
            "sidecart_payment_declines_total",
            "reason",
            {"card_declined", "insufficient_funds", "unknown_card"},
        ),
        (
            metrics.CART_LINES,
            "sidecart_cart_lines_total",
            "change",
            {"added", "updated", "removed", "ordered"},
        ),
    ],
    ids=["orders-cancelled", "payment-declines", "cart-lines"],
)
def test_initialising_a_business_counter_exports_each_documented_value_at_zero(
    counter: Counter, metric: str, label: str, values: set[str]
) -> None:
    counter.clear()  # as in a fresh process, whatever other tests counted
    metrics.initialise_business_counters(counter)
    exported = {
        sample.labels[label]: sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == metric
    }
    assert exported == dict.fromkeys(values, 0.0)


def test_initialising_keeps_what_a_counter_already_counted() -> None:
    metrics.payment_declined(metrics.PaymentDeclineReason.UNKNOWN_CARD)
    before = sample("sidecart_payment_declines_total", reason="unknown_card")
    metrics.initialise_business_counters(metrics.PAYMENT_DECLINES)
    assert sample("sidecart_payment_declines_total", reason="unknown_card") == before >= 1


@pytest.mark.parametrize(
    "counter", [metrics.DEAD_LETTERS, metrics.REQUESTS], ids=["open-set-of-topics", "not-business"]
)
def test_a_counter_without_known_label_values_is_refused(counter: Counter) -> None:
    with pytest.raises(ValueError, match="no known label values"):
        metrics.initialise_business_counters(counter)
