"""GET /_platform/metadata: an app describes its own sidecar, and only what the admin needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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


class CountingSidecar(httpx.AsyncBaseTransport):
    """A healthy sidecar that counts how often its HTTP client closed it."""

    def __init__(self) -> None:
        self.requests = 0
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if request.url.path == "/v1.0/metadata":
            return httpx.Response(200, json=METADATA)
        return httpx.Response(204)

    async def aclose(self) -> None:
        self.closed += 1


def test_the_app_keeps_one_sidecar_client_across_requests_and_closes_it_at_shutdown() -> None:
    sidecar = CountingSidecar()
    app = FastAPI()
    app.include_router(platform.router(settings(), sidecar))
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/_platform/metadata").json()["healthy"] is True
        assert sidecar.closed == 0
    assert sidecar.requests == 6
    assert sidecar.closed == 1


def test_the_sidecar_client_closes_alongside_the_apps_own_lifespan() -> None:
    sidecar = CountingSidecar()
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        events.append("started")
        yield
        events.append("stopped")

    app = FastAPI(lifespan=lifespan)
    app.include_router(platform.router(settings(), sidecar))
    with TestClient(app) as client:
        client.get("/_platform/metadata")
    assert events == ["started", "stopped"]
    assert sidecar.closed == 1


def test_the_route_sends_its_sidecar_the_api_token_when_there_is_one() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("dapr-api-token"))
        return fake_sidecar().handle_request(request)

    token = "sidecar-token-0123456789"
    app = FastAPI()
    with_token = ServiceSettings.model_validate(
        {"APP_ID": "cart", "APP_PORT": 8102, "DAPR_API_TOKEN": token}
    )
    app.include_router(platform.router(with_token, httpx.MockTransport(answer)))
    assert TestClient(app).get("/_platform/metadata").json()["healthy"] is True
    assert seen == [token, token]  # health, then metadata
