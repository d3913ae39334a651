"""The services' shared composition: ports for the app's lifetime, the health route, the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from sidecart.service import composition
from sidecart.service.composition import (
    PortsFactory,
    ports_dependency,
    ports_lifespan,
    service_app,
)
from sidecart.service.settings import ServiceSettings

TOKEN = "app-token-0123456789-abcdefghij"


def settings(**env: str) -> ServiceSettings:
    return ServiceSettings.model_validate({"APP_ID": "cart", "APP_PORT": 8102, **env})


@dataclass(frozen=True)
class FakePorts:
    name: str


PortsDep = Annotated[FakePorts, Depends(ports_dependency(FakePorts))]


@dataclass
class Factory:
    """Makes one `FakePorts` per entry and writes down what happened, in order."""

    fail_with: Exception | None = None
    events: list[str] = field(default_factory=list)
    made: list[FakePorts] = field(default_factory=list)
    given: list[ServiceSettings] = field(default_factory=list)

    @asynccontextmanager
    async def __call__(self, settings: ServiceSettings) -> AsyncIterator[FakePorts]:
        self.given.append(settings)
        if self.fail_with is not None:
            raise self.fail_with
        ports = FakePorts(f"ports-{len(self.made) + 1}")
        self.made.append(ports)
        self.events.append("ports opened")
        try:
            yield ports
        finally:
            self.events.append("ports closed")


def app_with(factory: PortsFactory[ServiceSettings, FakePorts], **env: str) -> FastAPI:
    """A service as the services build theirs: `service_app`, then a route of its own."""
    app = service_app("Sidecart test", settings(**env), factory)

    @app.get("/ports")
    async def which_ports(p: PortsDep) -> dict[str, str]:
        return {"name": p.name}

    return app


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The trace flush, written down instead of done: a test sees when it ran."""
    events: list[str] = []
    monkeypatch.setattr(composition, "shutdown_tracing", lambda: events.append("traces flushed"))
    return events


def test_the_ports_are_opened_once_for_the_apps_lifetime_and_closed_at_shutdown(
    flushes: list[str],
) -> None:
    factory = Factory()
    with TestClient(app_with(factory)) as client:
        for _ in range(3):
            assert client.get("/ports").json() == {"name": "ports-1"}
        assert factory.events == ["ports opened"]
    assert factory.events == ["ports opened", "ports closed"]
    assert len(factory.made) == 1


def test_the_factory_is_given_the_services_settings(flushes: list[str]) -> None:
    factory = Factory()
    with TestClient(app_with(factory)):
        pass
    assert [s.app_id for s in factory.given] == ["cart"]


def test_the_ports_dependency_hands_a_route_the_very_ports_the_factory_made(
    flushes: list[str],
) -> None:
    factory = Factory()
    app = app_with(factory)
    with TestClient(app) as client:
        assert client.get("/ports").json() == {"name": "ports-1"}
        assert app.state.ports is factory.made[0]


def test_healthz_answers_ok(flushes: list[str]) -> None:
    with TestClient(app_with(Factory())) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_with_the_app_token_on_healthz_stays_open_and_the_services_routes_answer_401(
    flushes: list[str],
) -> None:
    with TestClient(app_with(Factory(), APP_API_TOKEN=TOKEN)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/ports").status_code == 401
        assert client.get("/ports", headers={"dapr-api-token": TOKEN}).status_code == 200


def test_the_traces_are_flushed_after_the_ports_are_closed(flushes: list[str]) -> None:
    factory = Factory(events=flushes)
    with TestClient(app_with(factory)):
        pass
    assert flushes == ["ports opened", "ports closed", "traces flushed"]


def test_a_factory_that_raises_fails_the_startup_with_its_own_error(flushes: list[str]) -> None:
    factory = Factory(fail_with=ConnectionError("the sidecar is not up"))
    app = app_with(factory)
    with pytest.raises(ConnectionError, match="the sidecar is not up"), TestClient(app):
        pytest.fail("the app served although its ports could not be made")
    assert not hasattr(app.state, "ports")


def test_the_start_hook_runs_once_the_ports_are_open_and_before_the_first_request(
    flushes: list[str],
) -> None:
    factory = Factory()

    async def seed(ports: FakePorts) -> None:
        factory.events.append(f"started with {ports.name}")

    app = service_app("Sidecart test", settings(), factory, on_start=seed)
    with TestClient(app) as client:
        client.get("/healthz")
        factory.events.append("served")
    assert factory.events == ["ports opened", "started with ports-1", "served", "ports closed"]


def test_a_start_hook_that_raises_fails_the_startup_and_still_closes_the_ports(
    flushes: list[str],
) -> None:
    factory = Factory()

    async def seed(_: FakePorts) -> None:
        raise ValueError("the seed file is not valid JSON")

    app = service_app("Sidecart test", settings(), factory, on_start=seed)
    with pytest.raises(ValueError, match="seed file is not valid JSON"), TestClient(app):
        pytest.fail("the app served although its start hook failed")
    assert factory.events == ["ports opened", "ports closed"]


async def test_an_app_of_its_own_shape_can_take_only_the_lifespan(flushes: list[str]) -> None:
    factory = Factory()
    app = FastAPI(lifespan=ports_lifespan(settings(), factory))
    async with app.router.lifespan_context(app):
        assert app.state.ports is factory.made[0]
    assert factory.events == ["ports opened", "ports closed"]
    assert "/healthz" not in {getattr(route, "path", None) for route in app.routes}
