"""Metrics, dashboards and central logs of a real stack: every app the run file can start, its
daprd, Redis, Zipkin, Prometheus and VictoriaLogs, with every process's lines shipped. Nothing
mocked: traffic goes through the sidecars, Prometheus scrapes, the log store is queried."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from sidecart import logstore, runfile
from sidecart.testing import RunningStack, running_stack
from sidecart.testing import eventually as wait_for
from tests.conftest import RUN_FILE
from tests.dashboards import DASHBOARDS, load, queries, variables

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


def values_by_service(stack: RunningStack, expr: str) -> dict[str, float]:
    return {
        str(sample["metric"]["service"]): float(sample["value"][1])  # type: ignore[index]
        for sample in promql(stack, expr)
    }


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
            found = values_by_service(observed_stack, expr)
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
        latency = values_by_service(
            observed_stack, "service:sidecart_http_request_duration_seconds:p95_5m"
        )
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
