"""What every service's composition root does the same way: ports for the app's lifetime.

A service's `create_app` builds its app with `service_app(...)`: the lifespan enters the
service's ports factory once (one DaprClient per process), keeps the ports on `app.state.ports`
for the routes (`ports_dependency`) and the pub/sub handlers, and at shutdown closes them, then
flushes the traces, so the spans of the closing calls are exported too. `instrument()` adds
tracing, metrics, the platform route and the app token check, and `GET /healthz` answers the
sidecar's health probe. The routes, subscriptions and error answers stay in the service.

An app with its own shape (web: pages, another health path, browsers served directly) takes
only the lifespan, `ports_lifespan(...)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeVar, cast

from fastapi import FastAPI, Request

from sidecart.service.observability import instrument, shutdown_tracing
from sidecart.service.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)
S_contra = TypeVar("S_contra", bound=ServiceSettings, contravariant=True)
P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)

HEALTH_ROUTE = "/healthz"


class PortsFactory(Protocol[S_contra, P_co]):
    """Opens a service's ports for the app's lifetime: `dapr_ports`, or a test's fakes."""

    def __call__(self, settings: S_contra, /) -> AbstractAsyncContextManager[P_co]: ...


StartHook = Callable[[P], Awaitable[None]]
"""Work a service does once its ports are open and before it serves (the catalog's seeding)."""


def ports_lifespan(
    settings: S,
    make_ports: PortsFactory[S, P],
    on_start: StartHook[P] | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: ports entered once and put on `app.state.ports`, then `on_start`.

    A factory or hook that raises fails the start-up with its own exception (uvicorn logs it
    and exits); ports already opened are closed on the way out. At shutdown the ports are closed
    before the traces are flushed.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with make_ports(settings) as ports:
            app.state.ports = ports
            if on_start is not None:
                await on_start(ports)
            yield
        shutdown_tracing()

    return lifespan


def ports_dependency(ports_type: type[P]) -> Callable[[Request], P]:
    """The dependency that hands a route the app's ports:
    `PortsDep = Annotated[Ports, Depends(ports_dependency(Ports))]`.

    `ports_type` only types the answer: the lifespan stored what the service's factory made.
    """

    def ports(request: Request) -> P:
        return cast(P, request.app.state.ports)

    return ports


def service_app(
    title: str,
    settings: S,
    make_ports: PortsFactory[S, P],
    on_start: StartHook[P] | None = None,
) -> FastAPI:
    """A service's FastAPI app before its own routes: lifespan (`ports_lifespan`),
    `instrument()` (tracing, metrics, platform route, app token on every route but the open
    ones) and `GET /healthz`, which answers `{"status": "ok"}` without a token."""
    app = FastAPI(title=title, lifespan=ports_lifespan(settings, make_ports, on_start))
    instrument(app, settings)

    @app.get(HEALTH_ROUTE)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
