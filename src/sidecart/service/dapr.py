"""The process's one `DaprClient`: made once the sidecar answers, traced, closed on shutdown.

The SDK's client waits for its sidecar with a blocking loop that prints; waiting here first,
asynchronously, keeps the event loop free and the logs JSON.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from dapr.aio.clients import DaprClient
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from sidecart.service.settings import ServiceSettings


class SidecarUnavailableError(RuntimeError):
    pass


async def wait_for_sidecar(settings: ServiceSettings, patience: float = 60.0) -> None:
    url = f"{settings.dapr_http_url}/v1.0/healthz/outbound"
    deadline = time.monotonic() + patience
    # daprd's health routes need no token; sending it anyway keeps one rule for every call.
    async with httpx.AsyncClient(timeout=2.0, headers=settings.dapr_http_headers) as http:
        while True:
            try:
                if (await http.get(url)).is_success:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SidecarUnavailableError(
                    f"no Dapr sidecar answered at {url} in {patience:.0f}s"
                )
            await asyncio.sleep(0.2)


@asynccontextmanager
async def connect_client(settings: ServiceSettings) -> AsyncIterator[DaprClient]:
    """The SDK adds the `dapr-api-token` metadata itself when DAPR_API_TOKEN is in the
    environment (dapr.conf.settings); a plain HTTP call to the sidecar sends
    `settings.dapr_http_headers`."""
    await wait_for_sidecar(settings)
    client = DaprClient(
        address=f"127.0.0.1:{settings.dapr_grpc_port}",
        interceptors=aio_client_interceptors(),  # type: ignore[no-untyped-call]
    )
    try:
        yield client
    finally:
        await client.close()  # type: ignore[no-untyped-call]
