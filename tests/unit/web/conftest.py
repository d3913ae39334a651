"""Web on hand-written fakes: the real app (routes, middleware, templates), no sidecar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.web.fakes import Fakes
from web.app import create_app
from web.passwords import hash_password
from web.settings import WebSettings

ADMIN_PASSWORD = "correct horse battery staple"
ADMIN_HASH = hash_password(ADMIN_PASSWORD)
SECRET = "s" * 40
TODAY = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def make_settings(**overrides: Any) -> WebSettings:
    values: dict[str, Any] = {
        "APP_ID": "web",
        "APP_PORT": 8080,
        "WEB_SECRET_KEY": SECRET,
        "ADMIN_PASSWORD_HASH": ADMIN_HASH,
        "WEB_ORDER_POLL_SECONDS": 0,
        "WEB_PAGE_SIZE": 2,
    }
    values.update(overrides)
    return WebSettings.model_validate(values)


@pytest.fixture
def settings() -> WebSettings:
    return make_settings()


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


def make_client(settings: WebSettings, fakes: Fakes) -> TestClient:
    app = create_app(settings, fakes.factory())
    app.state.web.clock = lambda: TODAY
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def client(settings: WebSettings, fakes: Fakes) -> Iterator[TestClient]:
    with make_client(settings, fakes) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The same client, logged in as the admin."""
    response = client.post("/admin/login", data={"password": ADMIN_PASSWORD})
    assert response.status_code == 303, response.text
    return client


def shopper_of(client: TestClient) -> str:
    """The shopper id behind the client's signed cookie (made on first visit)."""
    client.get("/cart")
    app: Any = client.app
    shopper = app.state.web.keys.shopper_from(client.cookies.get("shop_session-id"))
    assert shopper is not None
    return str(shopper)
