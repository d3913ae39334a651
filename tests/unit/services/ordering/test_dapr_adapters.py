"""Ordering's adapters: a bad catalog answer is an upstream error; a failed release is quiet."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from services.ordering.dapr_adapters import (
    DaprCatalogGateway,
    DaprRequestClaims,
    Sidecar,
    UpstreamError,
)
from services.ordering.domain import Claim
from services.ordering.settings import OrderingSettings
from tests.unit.services.ordering.fakes import T0
from tests.unit.sidecart.service.fake_dapr import FakeDaprClient

SETTINGS = OrderingSettings.model_validate({"APP_ID": "ordering", "APP_PORT": 8103})


def catalog_answering(content: bytes) -> DaprCatalogGateway:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content)

    client: Any = FakeDaprClient()
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return DaprCatalogGateway(Sidecar(client, http, SETTINGS))


@pytest.mark.parametrize(
    "content",
    [b'{"id": "MUG", "name": "Mug"}', b"<html>gateway</html>", b'{"id": "MUG", "price": 3}'],
)
async def test_a_catalog_answer_that_is_not_a_product_is_an_upstream_error(content: bytes) -> None:
    with pytest.raises(UpstreamError, match="unreadable product for 'MUG'"):
        await catalog_answering(content).get_product("MUG")


async def test_releasing_a_claim_while_the_store_is_down_logs_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeDaprClient(down=True)
    client: Any = fake
    claims = DaprRequestClaims(client, "orderstore")
    with caplog.at_level(logging.WARNING, logger="ordering.dapr"):
        await claims.release(Claim("req-1", "order-1", T0, won=True))
    assert [r.__dict__["request_id"] for r in caplog.records if r.name == "ordering.dapr"] == [
        "req-1"
    ]


async def test_releasing_a_claim_deletes_it() -> None:
    fake = FakeDaprClient(items={"request:req-1": (b"{}", 1)})
    client: Any = fake
    await DaprRequestClaims(client, "orderstore").release(Claim("req-1", "order-1", T0))
    assert "request:req-1" not in fake.items
