"""GET /_platform/metadata: an app describes its own sidecar, and only what the admin needs."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sidecart.service import platform
from sidecart.service.observability import instrument
from sidecart.service.settings import ServiceSettings

METADATA = {
    "id": "cart",
    "runtimeVersion": "1.16.0",
    "extended": {"appCommand": "python -m services.cart --secret", "cliPID": "42"},
    "components": [{"name": "statestore", "type": "state.redis", "version": "v1"}],
    "subscriptions": [
        {
            "pubsubname": "pubsub",
            "topic": "order-placed",
            "rules": [{"match": "", "path": "/events/order-placed"}],
            "deadLetterTopic": "dead-letters",
        }
    ],
}


def settings() -> ServiceSettings:
    return ServiceSettings.model_validate({"APP_ID": "cart", "APP_PORT": 8102})


def fake_sidecar(healthy: bool = True) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/healthz":
            return httpx.Response(204 if healthy else 500)
        if request.url.path == "/v1.0/metadata":
            return httpx.Response(200, json=METADATA)
        return httpx.Response(404)

    return httpx.MockTransport(answer)


def app_with(transport: httpx.AsyncBaseTransport) -> TestClient:
    app = FastAPI()
    app.include_router(platform.router(settings(), transport))
    return TestClient(app)


def test_the_route_reports_health_components_and_subscriptions() -> None:
    report = app_with(fake_sidecar()).get("/_platform/metadata").json()
    assert report["app_id"] == "cart"
    assert report["healthy"] is True
    assert report["metadata"]["components"] == METADATA["components"]
    assert report["metadata"]["subscriptions"][0]["topic"] == "order-placed"


def test_the_apps_command_line_and_process_ids_stay_inside_the_app() -> None:
    report = app_with(fake_sidecar()).get("/_platform/metadata").json()
    assert "extended" not in report["metadata"]
    assert "--secret" not in str(report)


def test_an_unhealthy_sidecar_is_reported_as_such() -> None:
    report = app_with(fake_sidecar(healthy=False)).get("/_platform/metadata").json()
    assert report["healthy"] is False
    assert report["health_status"] == 500


def test_a_sidecar_that_does_not_answer_is_a_report_not_an_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    response = app_with(httpx.MockTransport(refuse)).get("/_platform/metadata")
    assert response.status_code == 200
    assert response.json()["healthy"] is False
    assert "did not answer" in response.json()["error"]


def test_every_instrumented_service_answers_the_platform_route() -> None:
    app = FastAPI()
    instrument(app, settings())
    assert platform.ROUTE in {getattr(route, "path", "") for route in app.routes}
