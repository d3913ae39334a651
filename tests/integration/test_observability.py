"""Metrics, dashboards and central logs of a real stack: every app the run file can start, its
daprd (API tokens on, as `sidecart run` has them), Redis, Zipkin, Prometheus and VictoriaLogs,
with every process's lines shipped. Nothing mocked: traffic goes through the sidecars, checkouts
through web's pages, Prometheus scrapes, the log store is queried."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

import httpx
import pytest

from services.ordering.dapr_adapters import order_key
from services.ordering.events import Money, PaymentRequested
from services.ordering.schemas import StoredOrder
from services.payment.domain import DeclineCode
from services.payment.events import PaymentFailed
from sidecart import logstore, runfile
from sidecart.testing import RunningStack, running_stack
from sidecart.testing import eventually as wait_for
from tests.conftest import RUN_FILE
from tests.dashboards import DASHBOARDS, load, queries, variables
from tests.integration.test_web_shop import (
    DECLINED_CARD,
    add,
    check_out,
    final_status,
    set_stock,
    shopper,
)

# A harmless GET per app, called through web's sidecar; an app not listed gets a probe path,
# which its RED metrics count as `unmatched`.
ROUTES = {
    "catalog": "/products",
    "cart": "/carts/observability-shopper",
    "ordering": "/orders?shopper_id=observability-shopper",
    "payment": "/payments/observability-order",
    "notification": "/notifications?order_id=observability-order",
}
# Panels that must have data after any traffic (the others need orders, errors or messages).
MUST_HAVE_DATA = {
    "Requests per second by service",
    "Latency p50 / p95 / p99 by service",
    "Apps up",
    "Sidecars up",
    "Sidecar to app calls per second by status",
    "gRPC API calls per second by method",
    "Sidecar resident memory",
}


def runnable_apps() -> set[str]:
    """Every app of the run file whose code is there; SIDECART_TEST_APPS narrows it down."""
    _, apps = runfile.load(RUN_FILE)
    found = {a.app_id for a in apps if a.command and (a.app_dir / "__main__.py").is_file()}
    wanted = os.environ.get("SIDECART_TEST_APPS")
    return found & set(wanted.split(",")) if wanted else found


APPS = runnable_apps()


@pytest.fixture(scope="module")
def observed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(
        RUN_FILE, tmp_path_factory.mktemp("observed"), apps=APPS, observability=True
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def trace_id(observed_stack: RunningStack) -> str:
    """One request per app, all in one trace whose id the test chose."""
    trace = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace}-{secrets.token_hex(8)}-01"}
    if "web" in APPS:
        assert httpx.get(observed_stack.app_url("web") + "/", headers=headers).status_code == 200
    caller = "web" if "web" in APPS else sorted(APPS)[0]
    headers |= observed_stack.dapr_headers(caller)
    for app in sorted(APPS - {"web"}):
        url = f"{observed_stack.dapr_url(caller)}/v1.0/invoke/{app}/method"
        response = httpx.get(url + ROUTES.get(app, "/observability-probe"), headers=headers)
        assert response.status_code < 500, (app, response.status_code, response.text)
    return trace


# This module's patience with asynchronous outcomes.
eventually = partial(wait_for, timeout=40.0, interval=1.0)


def promql(stack: RunningStack, expr: str) -> list[dict[str, object]]:
    body = httpx.get(stack.prometheus_url + "/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", (expr, body)
    result = body["data"]["result"]
    assert isinstance(result, list)
    return result


def values_by(stack: RunningStack, expr: str, label: str = "service") -> dict[str, float]:
    """The query's samples by the value of `label`."""
    return {labels(sample).get(label, ""): value(sample) for sample in promql(stack, expr)}


def labels(sample: dict[str, object]) -> dict[str, str]:
    metric = sample["metric"]
    assert isinstance(metric, dict)
    return {str(name): str(text) for name, text in metric.items()}


def value(sample: dict[str, object]) -> float:
    timestamp_and_value = sample["value"]
    assert isinstance(timestamp_and_value, list)
    return float(timestamp_and_value[1])


def test_the_stack_runs_at_least_web_and_catalog() -> None:
    assert {"web", "catalog"} <= APPS or os.environ.get("SIDECART_TEST_APPS")


def test_prometheus_has_app_red_metrics_and_daprd_metrics_for_every_service(
    observed_stack: RunningStack, trace_id: str
) -> None:
    def every_service_has_data() -> None:
        checks = {
            "app target up": 'up{job="apps"} == 1',
            "sidecar target up": 'up{job="sidecars"} == 1',
            "app requests": "sum by (service) (sidecart_http_requests_total) > 0",
            "app request durations": (
                "sum by (service) (sidecart_http_request_duration_seconds_count) > 0"
            ),
            "sidecar calls into the app": "sum by (service) (dapr_http_client_completed_count) > 0",
            "sidecar API calls served (HTTP or gRPC)": (
                "sum by (service) ({__name__=~"
                '"dapr_http_server_request_count|dapr_grpc_io_server_completed_rpcs"}) > 0'
            ),
            "sidecar health probes of the app": (
                "sum by (service) (dapr_http_healthprobes_completed_count) > 0"
            ),
        }
        for what, expr in checks.items():
            found = values_by(observed_stack, expr)
            assert set(found) >= APPS, f"{what}: {sorted(APPS - set(found))} missing ({expr})"

    eventually(every_service_has_data)


def test_prometheus_loaded_the_rules_and_evaluates_them_cleanly(
    observed_stack: RunningStack, trace_id: str
) -> None:
    def rules_healthy() -> None:
        groups = httpx.get(observed_stack.prometheus_url + "/api/v1/rules").json()["data"]["groups"]
        names = {group["name"] for group in groups}
        assert {"sidecart-red", "sidecart-sidecars", "sidecart-alerts"} <= names
        for group in groups:
            for rule in group["rules"]:
                assert rule["health"] == "ok", rule
        latency = values_by(observed_stack, "service:sidecart_http_request_duration_seconds:p95_5m")
        assert set(latency) >= APPS

    eventually(rules_healthy)


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.stem)
def test_every_dashboard_query_runs_against_the_real_prometheus(
    observed_stack: RunningStack, trace_id: str, dashboard: Path
) -> None:
    names = variables(load(dashboard))

    def all_queries_run() -> None:
        empty = []
        for query in queries(dashboard):
            if not promql(observed_stack, query.promql(names)) and query.panel in MUST_HAVE_DATA:
                empty.append(query.panel)
        assert not empty, f"no data for {empty}"

    eventually(all_queries_run)


def test_one_trace_id_finds_the_lines_of_every_app_and_its_sidecar(
    observed_stack: RunningStack, trace_id: str
) -> None:
    def lines_of_every_service() -> None:
        records = logstore.trace_lines(observed_stack.log_store_url, trace_id)
        seen = {(str(r["service"]), str(r["source"])) for r in records}
        missing = {(app, source) for app in APPS for source in ("app", "sidecar")} - seen
        assert not missing, f"no lines of {sorted(missing)} for trace {trace_id}"
        assert all(r["trace_id"] == trace_id for r in records)

    eventually(lines_of_every_service)


def test_sidecart_logs_prints_the_lines_of_one_trace(
    observed_stack: RunningStack, trace_id: str
) -> None:
    def printed() -> str:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "sidecart.cli",
                "logs",
                trace_id,
                "--url",
                observed_stack.log_store_url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def every_service_printed() -> None:
        out = printed()
        for app in APPS:
            assert f"{app}/app" in out and f"{app}/sidecar" in out, out

    eventually(every_service_printed)


def test_infrastructure_lines_are_shipped_too(observed_stack: RunningStack) -> None:
    def infra_lines() -> None:
        records = logstore.query(
            observed_stack.log_store_url, "source:infra | stats by (service) count() hits"
        )
        services = {str(r["service"]) for r in records}
        assert {"redis", "zipkin", "prometheus"} <= services, services

    eventually(infra_lines)


def test_every_url_sidecart_prints_answers(observed_stack: RunningStack) -> None:
    """The shop, Zipkin, Prometheus and the log UI answer 200; each app's own URL answers."""
    urls = observed_stack.stack.urls()
    pages = {"zipkin", "prometheus", "logs (VictoriaLogs UI)"} | (
        {"shop"} if "web" in APPS else set()
    )
    assert pages <= set(urls), urls
    for name, url in urls.items():
        response = httpx.get(url, follow_redirects=True, timeout=10)
        if name in pages:
            assert response.status_code == 200, (name, url, response.status_code)
        else:
            assert response.status_code < 500, (name, url, response.status_code)


# --- business counters, read back from Prometheus after real checkouts ------------------------
#
# Three checkouts through web (one paid, one declined card, one beyond the stock) and one
# malformed message that ends dead-lettered; every number is an increase over a reading taken
# before, once Prometheus had scraped the apps, so the traffic of the tests above does not count.

SHOP = {"web", "catalog", "cart", "ordering", "payment"}
needs_the_shop = pytest.mark.skipif(
    not SHOP <= APPS, reason=f"needs {sorted(SHOP)}; SIDECART_TEST_APPS narrowed the stack"
)

TANK_TOP, LOAFERS, SHAKERS = "66VCHSJNUP", "L9ECAV7KIM", "LS4PSXUNUM"
MALFORMED_TOPIC = "catalog-changed"
JSON = {"content-type": "application/json"}

# Each business counter as the dashboards read it; a selector with no series counts as 0.
BUSINESS_COUNTERS = {
    "orders placed": "sidecart_orders_placed_total",
    "orders confirmed": "sidecart_orders_confirmed_total",
    "orders cancelled": "sidecart_orders_cancelled_total",
    "orders cancelled, payment declined": (
        'sidecart_orders_cancelled_total{reason="payment_declined"}'
    ),
    "orders cancelled, out of stock": 'sidecart_orders_cancelled_total{reason="out_of_stock"}',
    "payment declines": "sidecart_payment_declines_total",
    "payment declines, card declined": 'sidecart_payment_declines_total{reason="card_declined"}',
    "cart lines added": 'sidecart_cart_lines_total{change="added"}',
    "cart lines ordered": 'sidecart_cart_lines_total{change="ordered"}',
    "cart lines removed": 'sidecart_cart_lines_total{change="removed"}',
    "messages dead-lettered": "sidecart_messages_dead_lettered_total",
    f"messages dead-lettered from {MALFORMED_TOPIC}": (
        f'sidecart_messages_dead_lettered_total{{topic="{MALFORMED_TOPIC}"}}'
    ),
}
EXPECTED_INCREASES = {
    "orders placed": 3.0,
    "orders confirmed": 1.0,
    "orders cancelled": 2.0,
    "orders cancelled, payment declined": 1.0,
    "orders cancelled, out of stock": 1.0,
    "payment declines": 1.0,
    "payment declines, card declined": 1.0,
    "cart lines added": 3.0,  # one line put in each checkout's cart
    "cart lines ordered": 3.0,  # each taken out of its cart by the order's OrderPlaced
    "cart lines removed": 0.0,  # the shoppers themselves took nothing out
    "messages dead-lettered": 1.0,
    f"messages dead-lettered from {MALFORMED_TOPIC}": 1.0,
}
BUSINESS_METRICS = (
    "sidecart_orders_",
    "sidecart_payment_declines",
    "sidecart_cart_lines",
    "sidecart_messages_dead_lettered",
)


def business_counts(stack: RunningStack) -> dict[str, float]:
    return {
        name: sum(value(sample) for sample in promql(stack, selector))
        for name, selector in BUSINESS_COUNTERS.items()
    }


def scraped_since(stack: RunningStack, moment: float) -> None:
    """Wait until Prometheus has scraped every app after `moment` (seconds since the epoch).

    Read from the targets API, which also says why a target is behind (its last error)."""

    def every_app_scraped() -> None:
        answer = httpx.get(stack.prometheus_url + "/api/v1/targets", params={"state": "active"})
        targets = {
            t["labels"].get("service", ""): t
            for t in answer.json()["data"]["activeTargets"]
            if t["labels"].get("job") == "apps"
        }
        behind = {
            app: {k: targets.get(app, {}).get(k) for k in ("health", "lastScrape", "lastError")}
            for app in sorted(APPS)
            if app not in targets
            or datetime.fromisoformat(targets[app]["lastScrape"]).timestamp() <= moment
        }
        assert not behind, f"not scraped since {moment}: {behind}"

    eventually(every_app_scraped)


def increases(stack: RunningStack, before: dict[str, float]) -> dict[str, float]:
    now = business_counts(stack)
    return {name: now[name] - before[name] for name in BUSINESS_COUNTERS}


def logged(stack: RunningStack, app_id: str, message: str, order_id: str) -> int:
    return sum(
        1
        for record in stack.app_log_records(app_id)
        if record.get("message") == message and record.get("order_id") == order_id
    )


@dataclass(frozen=True)
class Checkouts:
    before: dict[str, float]  # the counters as Prometheus had them before the traffic
    declined: str  # the order whose card was declined


@pytest.fixture(scope="module")
def checkouts(observed_stack: RunningStack) -> Checkouts:
    stack = observed_stack
    scraped_since(stack, time.time())
    before = business_counts(stack)
    set_stock(stack, SHAKERS, 5)
    with shopper(stack) as paying, shopper(stack) as declined, shopper(stack) as unlucky:
        add(paying, TANK_TOP, 1)
        add(declined, LOAFERS, 1)
        add(unlucky, SHAKERS, 2)
        set_stock(stack, SHAKERS, 1)  # another shopper bought the rest meanwhile
        pages = [
            check_out(paying),
            check_out(declined, card=DECLINED_CARD),
            check_out(unlucky),
        ]
        clients = (paying, declined, unlucky)
        ended = [final_status(client, page) for client, page in zip(clients, pages, strict=True)]
    assert ended == ["Confirmed", "Cancelled", "Cancelled"]
    publish = f"{stack.dapr_url('web')}/v1.0/publish/pubsub/{MALFORMED_TOPIC}"
    malformed = httpx.post(
        publish,
        json={"not_a_catalog_change": secrets.token_hex(8)},
        headers=stack.dapr_headers("web"),
    )
    assert malformed.status_code == 204, malformed.text
    return Checkouts(before, declined=pages[1].removeprefix("/order/"))


@pytest.fixture(scope="module")
def redelivered(observed_stack: RunningStack, checkouts: Checkouts) -> Checkouts:
    """The declined order's PaymentRequested and PaymentFailed delivered a second time, as an
    at-least-once publish may; the fixture returns once payment and ordering handled both."""
    stack, order_id = observed_stack, checkouts.declined
    state = f"{stack.dapr_url('ordering')}/v1.0/state/orderstore/{order_key(order_id)}"
    response = httpx.get(state, timeout=10, headers=stack.dapr_headers("ordering"))
    assert response.status_code == 200, response.text
    stored = StoredOrder.model_validate_json(response.content)
    assert stored.status.value == "Cancelled", stored
    request = PaymentRequested(
        correlation_id=stored.request_id,
        order_id=order_id,
        amount=Money(amount=stored.total.amount, currency=stored.total.currency),
        card_token=stored.card_token,
    )
    failed = PaymentFailed(
        correlation_id=stored.request_id, order_id=order_id, reason=DeclineCode.CARD_DECLINED
    )
    decided_before = logged(stack, "payment", "payment decided", order_id)
    for publisher, topic, event in (
        ("ordering", "payment-requested", request),
        ("payment", "payment-failed", failed),
    ):
        url = f"{stack.dapr_url(publisher)}/v1.0/publish/pubsub/{topic}"
        headers = JSON | stack.dapr_headers(publisher)
        response = httpx.post(url, content=event.model_dump_json(), timeout=10, headers=headers)
        assert response.status_code == 204, (topic, response.text)

    def both_handled_again() -> None:
        assert logged(stack, "payment", "payment decided", order_id) > decided_before
        assert logged(stack, "ordering", "event already applied, ignored", order_id) >= 1

    eventually(both_handled_again)
    return checkouts


@needs_the_shop
def test_prometheus_counts_each_checkout_once_by_outcome_and_reason(
    observed_stack: RunningStack, checkouts: Checkouts
) -> None:
    def counted_once_each() -> None:
        assert increases(observed_stack, checkouts.before) == EXPECTED_INCREASES

    eventually(counted_once_each)


@needs_the_shop
def test_a_payment_request_and_failure_delivered_again_change_no_business_counter(
    observed_stack: RunningStack, redelivered: Checkouts
) -> None:
    scraped_since(observed_stack, time.time())
    assert increases(observed_stack, redelivered.before) == EXPECTED_INCREASES


@needs_the_shop
def test_every_dashboard_query_on_business_counters_shows_the_checkouts(
    observed_stack: RunningStack, checkouts: Checkouts
) -> None:
    shop = next(path for path in DASHBOARDS if path.stem == "shop")
    names = variables(load(shop))
    business = [
        query for query in queries(shop) if any(metric in query.expr for metric in BUSINESS_METRICS)
    ]
    assert len(business) >= 10, [query.panel for query in business]

    def every_query_has_data() -> None:
        empty = [
            f"{query.panel} ({query.ref_id})"
            for query in business
            if not promql(observed_stack, query.promql(names))
        ]
        assert not empty, f"no data for {empty}"

    eventually(every_query_has_data)


@needs_the_shop
def test_the_business_recording_rules_record_the_checkouts(
    observed_stack: RunningStack, checkouts: Checkouts
) -> None:
    def recorded() -> None:
        placed = [value(s) for s in promql(observed_stack, "sidecart:orders_placed:increase1h")]
        assert len(placed) == 1 and placed[0] > 0, placed
        cancelled = values_by(
            observed_stack, "reason:sidecart_orders_cancelled:increase1h", label="reason"
        )
        assert set(cancelled) == {"out_of_stock", "payment_declined"}, cancelled
        assert all(increase > 0 for increase in cancelled.values()), cancelled
        dead = values_by(
            observed_stack, "topic:sidecart_messages_dead_lettered:increase10m", label="topic"
        )
        assert dead.get(MALFORMED_TOPIC, 0.0) > 0, dead

    eventually(recorded)


@needs_the_shop
def test_the_malformed_message_raises_the_drop_and_dead_letter_alerts(
    observed_stack: RunningStack, checkouts: Checkouts
) -> None:
    def firing() -> None:
        alerts = promql(observed_stack, 'ALERTS{alertstate="firing"}')
        fired = {(labels(a)["alertname"], labels(a).get("topic", "")) for a in alerts}
        assert {
            ("SidecartMessagesDropped", MALFORMED_TOPIC),
            ("SidecartDeadLetters", MALFORMED_TOPIC),
        } <= fired, fired

    eventually(firing)


def test_the_stack_rides_out_a_log_store_outage_and_ships_the_backlog(
    observed_stack: RunningStack,
) -> None:
    """Last in this module: the store goes down under traffic, nothing fails, then it catches up."""
    store = next(p for p in observed_stack.stack.processes if p.name == "victoria-logs")
    observability = observed_stack.stack.observability
    assert observability is not None and observability.shipper is not None
    shipper = observability.shipper
    store.stop()
    trace = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace}-{secrets.token_hex(8)}-01"}
    caller = "web" if "web" in APPS else sorted(APPS)[0]
    headers |= observed_stack.dapr_headers(caller)
    url = f"{observed_stack.dapr_url(caller)}/v1.0/invoke/catalog/method/products"
    for _ in range(5):
        assert httpx.get(url, headers=headers, timeout=10).status_code == 200
    eventually(lambda: _assert(shipper.stats.failed_posts > 0), timeout=20)
    assert observed_stack.stack.failed_process() is None  # the log store is not the shop

    store.start()
    port = observed_stack.infra_port("victoria-logs")
    eventually(lambda: _assert(logstore.VICTORIA_LOGS.ready(port)()), timeout=30)

    def backlog_arrived() -> None:
        records = logstore.trace_lines(observed_stack.log_store_url, trace)
        assert {(r["service"], r["source"]) for r in records} >= {
            ("catalog", "app"),
            ("catalog", "sidecar"),
        }

    eventually(backlog_arrived)
    assert shipper.stats.dropped == 0


def _assert(condition: bool) -> None:
    assert condition
