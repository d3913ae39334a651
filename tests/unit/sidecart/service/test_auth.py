"""Only the app's own sidecar may call it: the app token on every route but the open ones."""

from __future__ import annotations

import hmac
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.types import Message, Receive, Scope, Send

from sidecart.service import auth
from sidecart.service.observability import instrument
from sidecart.service.settings import ServiceSettings

TOKEN = "app-token-0123456789-abcdefghij"
SIDECAR_TOKEN = "api-token-0123456789-abcdefghij"
HEADER = "dapr-api-token"


def settings(**env: str) -> ServiceSettings:
    return ServiceSettings.model_validate({"APP_ID": "catalog", "APP_PORT": 8101, **env})


def service(serves_browsers: bool = False, **env: str) -> TestClient:
    """An app as every service builds it: its routes, then `instrument()`."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_healthz")
    async def web_healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/products")
    async def products() -> list[str]:
        return ["OLJCESPC7Z"]

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"page": "home"}

    @app.post("/events/catalog-changed")
    async def delivery() -> dict[str, str]:
        return {"status": "SUCCESS"}

    @app.get("/dapr/subscribe")
    async def subscribe() -> list[str]:
        return []

    instrument(app, settings(**env), serves_browsers=serves_browsers)
    return TestClient(app)


@pytest.fixture
def guarded() -> TestClient:
    return service(APP_API_TOKEN=TOKEN)


def test_a_request_without_the_app_token_is_refused_with_401(guarded: TestClient) -> None:
    response = guarded.get("/products")
    assert response.status_code == 401
    assert HEADER in response.json()["detail"]
    assert response.headers["www-authenticate"] == HEADER


def test_a_request_with_a_wrong_token_is_refused_with_401(guarded: TestClient) -> None:
    assert guarded.get("/products", headers={HEADER: TOKEN + "x"}).status_code == 401
    assert guarded.get("/products", headers={HEADER: SIDECAR_TOKEN}).status_code == 401
    assert guarded.get("/products", headers={HEADER: ""}).status_code == 401


def test_a_request_with_the_app_token_reaches_the_route(guarded: TestClient) -> None:
    response = guarded.get("/products", headers={HEADER: TOKEN})
    assert response.status_code == 200
    assert response.json() == ["OLJCESPC7Z"]


def test_pub_sub_deliveries_and_dapr_subscribe_need_the_token_too(guarded: TestClient) -> None:
    assert guarded.post("/events/catalog-changed", json={}).status_code == 401
    assert guarded.get("/dapr/subscribe").status_code == 401
    assert guarded.get("/dapr/subscribe", headers={HEADER: TOKEN}).status_code == 200


def test_the_platform_route_needs_the_token(guarded: TestClient) -> None:
    assert guarded.get("/_platform/metadata").status_code == 401


def test_a_second_token_header_is_refused_even_beside_the_right_one(guarded: TestClient) -> None:
    headers = [(HEADER, TOKEN), (HEADER, "something-else-entirely")]
    assert guarded.get("/products", headers=headers).status_code == 401


def test_health_and_metrics_stay_open_without_a_token(guarded: TestClient) -> None:
    assert guarded.get("/healthz").status_code == 200
    assert guarded.get("/_healthz").status_code == 200
    metrics = guarded.get("/metrics")
    assert metrics.status_code == 200
    assert "sidecart_http_requests" in metrics.text


def test_an_open_path_is_matched_exactly_not_as_a_prefix(guarded: TestClient) -> None:
    assert guarded.get("/healthz/").status_code == 401
    assert guarded.get("/healthz/products").status_code == 401
    assert guarded.get("/metricsx").status_code == 401


def test_refused_requests_are_counted_as_401_by_the_red_metrics(guarded: TestClient) -> None:
    guarded.get("/products")
    line = 'sidecart_http_requests_total{method="GET",route="/products",status_code="401"}'
    assert line in guarded.get("/metrics").text


def test_a_refusal_is_logged_without_the_token_presented(
    guarded: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sidecart.auth"):
        guarded.get("/products", headers={HEADER: "a-guess-that-must-not-be-logged"})
    (record,) = [r for r in caplog.records if r.name == "sidecart.auth"]
    assert record.path == "/products"  # type: ignore[attr-defined]
    assert "a-guess" not in str(vars(record))


def test_the_token_is_compared_in_constant_time(
    guarded: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert guarded.get("/products", headers={HEADER: TOKEN}).status_code == 200
    assert compared == [(TOKEN.encode(), TOKEN.encode())]


def test_an_app_that_serves_browsers_keeps_its_pages_open(guarded: TestClient) -> None:
    web = service(serves_browsers=True, APP_API_TOKEN=TOKEN)
    assert web.get("/").status_code == 200
    assert web.get("/products").status_code == 200
    assert web.get("/_healthz").status_code == 200


def test_an_app_that_serves_browsers_still_guards_the_routes_daprd_calls() -> None:
    web = service(serves_browsers=True, APP_API_TOKEN=TOKEN)
    assert web.post("/events/catalog-changed", json={}).status_code == 401
    assert web.get("/dapr/subscribe").status_code == 401
    assert web.get("/_platform/metadata").status_code == 401
    assert web.post("/events/catalog-changed", headers={HEADER: TOKEN}).status_code == 200


def test_without_app_api_token_every_route_is_open_and_one_warning_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="sidecart.auth"):
        open_app = service()
    assert open_app.get("/products").status_code == 200
    (warning,) = [r for r in caplog.records if r.name == "sidecart.auth"]
    assert warning.levelno == logging.WARNING
    assert "authentication is off" in warning.getMessage()
    assert warning.unset == ["APP_API_TOKEN", "DAPR_API_TOKEN"]  # type: ignore[attr-defined]


def test_the_warning_names_only_the_direction_that_is_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="sidecart.auth"):
        service(APP_API_TOKEN=TOKEN)
    (warning,) = [r for r in caplog.records if r.name == "sidecart.auth"]
    assert warning.unset == ["DAPR_API_TOKEN"]  # type: ignore[attr-defined]


def test_with_both_tokens_set_nothing_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sidecart.auth"):
        service(APP_API_TOKEN=TOKEN, DAPR_API_TOKEN=SIDECAR_TOKEN)
    assert not [r for r in caplog.records if r.name == "sidecart.auth"]


async def test_a_websocket_without_the_token_is_closed_before_it_is_accepted() -> None:
    reached: list[str] = []
    sent: list[Message] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(str(scope["path"]))

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    middleware = auth.AppTokenMiddleware(
        inner, token=SecretStr(TOKEN), guarded=auth.every_route_but_the_open_ones
    )
    await middleware({"type": "websocket", "path": "/live", "headers": []}, receive, send)
    assert reached == []
    assert sent == [{"type": "websocket.close", "code": 1008}]
