"""Dapr API tokens on a real stack: each app and its own daprd only answer each other.

web and catalog run as `sidecart run` runs them, with a fresh pair of tokens per app: daprd
requires DAPR_API_TOKEN on its APIs and sends APP_API_TOKEN on every call into its app.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sidecart.testing import RunningStack, eventually, running_stack
from tests.conftest import RUN_FILE

HEADER = "dapr-api-token"


@pytest.fixture(scope="module")
def tokened_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    tmp = tmp_path_factory.mktemp("tokens")
    with running_stack(RUN_FILE, tmp, apps={"web", "catalog"}, api_tokens=True) as stack:
        yield stack


def invoke(stack: RunningStack, caller: str, app_id: str, path: str) -> str:
    return f"{stack.dapr_url(caller)}/v1.0/invoke/{app_id}/method/{path.lstrip('/')}"


def test_calling_the_catalog_app_directly_without_the_token_is_refused_with_401(
    tokened_stack: RunningStack,
) -> None:
    products = tokened_stack.app_url("catalog") + "/products"
    assert httpx.get(products).status_code == 401
    assert httpx.get(products, headers={HEADER: "a-guessed-token-value"}).status_code == 401
    # The app's own sidecar token is not the app token either.
    assert httpx.get(products, headers=tokened_stack.dapr_headers("catalog")).status_code == 401
    assert httpx.get(products, headers=tokened_stack.app_headers("catalog")).status_code == 200


def test_the_health_route_and_metrics_stay_open_on_the_app(tokened_stack: RunningStack) -> None:
    catalog = tokened_stack.app_url("catalog")
    assert httpx.get(catalog + "/healthz").status_code == 200
    assert httpx.get(catalog + "/metrics").status_code == 200


def test_calling_a_sidecars_api_without_the_token_is_refused_with_401(
    tokened_stack: RunningStack,
) -> None:
    web_sidecar = tokened_stack.dapr_url("web")
    assert httpx.get(web_sidecar + "/v1.0/metadata").status_code == 401
    assert httpx.get(invoke(tokened_stack, "web", "catalog", "products")).status_code == 401
    publish = f"{web_sidecar}/v1.0/publish/pubsub/catalog-changed"
    assert httpx.post(publish, json={}).status_code == 401
    # daprd keeps its health routes open (the launcher waits on them).
    assert httpx.get(web_sidecar + "/v1.0/healthz").status_code == 204


def test_one_apps_token_does_not_open_another_apps_sidecar(tokened_stack: RunningStack) -> None:
    url = tokened_stack.dapr_url("web") + "/v1.0/metadata"
    assert httpx.get(url, headers=tokened_stack.dapr_headers("catalog")).status_code == 401
    assert httpx.get(url, headers=tokened_stack.dapr_headers("web")).status_code == 200


def test_the_catalog_listing_through_webs_sidecar_still_works(
    tokened_stack: RunningStack,
) -> None:
    url = invoke(tokened_stack, "web", "catalog", "products")
    response = httpx.get(url, headers=tokened_stack.dapr_headers("web"))
    assert response.status_code == 200, response.text
    assert "Sunglasses" in response.text


def test_the_shop_page_lists_products_that_web_fetched_through_its_sidecar(
    tokened_stack: RunningStack,
) -> None:
    # Web's pages stay open to browsers; web's own calls to its sidecar carry its token.
    page = httpx.get(tokened_stack.app_url("web") + "/")
    assert page.status_code == 200
    assert "Sunglasses" in page.text


def test_web_still_refuses_routes_only_daprd_calls_without_the_token(
    tokened_stack: RunningStack,
) -> None:
    web = tokened_stack.app_url("web")
    assert httpx.get(web + "/dapr/subscribe").status_code == 401
    assert httpx.post(web + "/events/catalog-changed", json={}).status_code == 401
    assert httpx.get(web + "/_platform/metadata").status_code == 401


def test_daprd_read_the_apps_subscriptions_with_the_app_token(
    tokened_stack: RunningStack,
) -> None:
    url = tokened_stack.dapr_url("web") + "/v1.0/metadata"
    metadata = httpx.get(url, headers=tokened_stack.dapr_headers("web")).json()
    assert {s["topic"] for s in metadata.get("subscriptions", [])} >= {"catalog-changed"}


def test_a_message_published_with_the_token_is_delivered_with_the_app_token(
    tokened_stack: RunningStack,
) -> None:
    marker = uuid.uuid4().hex
    publish = f"{tokened_stack.dapr_url('web')}/v1.0/publish/pubsub/catalog-changed"
    event = {"id": marker, "correlation_id": marker, "product_ids": [marker]}
    response = httpx.post(publish, json=event, headers=tokened_stack.dapr_headers("web"))
    assert response.status_code == 204

    def handled() -> None:
        assert any(
            record.get("message") == "catalog changed, product cache dropped"
            and record.get("products") == [marker]
            for record in tokened_stack.app_log_records("web")
        )

    eventually(handled, timeout=20.0)


def test_an_app_reports_its_sidecar_through_the_token(tokened_stack: RunningStack) -> None:
    url = invoke(tokened_stack, "web", "catalog", "_platform/metadata")
    report = httpx.get(url, headers=tokened_stack.dapr_headers("web")).json()
    assert report["healthy"] is True
    assert report["metadata"]["id"] == "catalog"
    assert "error" not in report


def test_no_token_appears_in_any_log_file(tokened_stack: RunningStack) -> None:
    tokens = {
        value
        for app_id in ("web", "catalog")
        for headers in (tokened_stack.dapr_headers(app_id), tokened_stack.app_headers(app_id))
        for value in headers.values()
    }
    assert len(tokens) == 4
    logs = {path.name: path.read_text(errors="replace") for path in log_files(tokened_stack)}
    assert logs
    assert {name for name, text in logs.items() if any(t in text for t in tokens)} == set()


def log_files(stack: RunningStack) -> list[Path]:
    return sorted(stack.log_dir.glob("*.log"))
