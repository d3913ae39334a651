"""web and catalog through two real daprd sidecars over the real brokers and stores: nothing mocked.

Part of the end-to-end suite (`e2e`): `make test-matrix` runs it on every infrastructure
profile, so what it reads under the hood goes through `tests.integration.probes`.
"""

from __future__ import annotations

import json
from functools import partial

import httpx
import pytest

from sidecart.testing import RunningStack
from sidecart.testing import eventually as wait_for
from tests.integration import probes

pytestmark = pytest.mark.e2e


def stored(shop: RunningStack, key: str) -> object:
    """The JSON value Dapr keeps for `key`, read from the profile's store itself."""
    return probes.stored_json(shop, key)


# This module's patience with asynchronous outcomes.
eventually = partial(wait_for, timeout=20.0, interval=0.3)


def test_the_home_page_lists_products_fetched_through_service_invocation(
    shop: RunningStack,
) -> None:
    page = httpx.get(shop.app_url("web") + "/")
    assert page.status_code == 200
    assert "Bamboo Glass Jar" in page.text
    assert "USD 5.49" in page.text


def test_the_catalog_is_seeded_into_the_real_state_store(shop: RunningStack) -> None:
    # Dapr keeps each app's keys under "<app-id>||<key>".
    ids = stored(shop, "catalog||product-ids")
    assert isinstance(ids, list) and "OLJCESPC7Z" in ids
    product = stored(shop, "catalog||product:OLJCESPC7Z")
    assert isinstance(product, dict) and product["name"] == "Sunglasses"


def test_a_product_is_served_by_the_catalog_through_its_sidecar(shop: RunningStack) -> None:
    url = shop.dapr_url("web") + "/v1.0/invoke/catalog/method/products/OLJCESPC7Z"
    response = httpx.get(url, headers=shop.dapr_headers("web"))
    assert response.status_code == 200
    assert response.json()["price"] == {"amount": "19.99", "currency": "USD"}


def test_an_unknown_product_is_a_404_through_the_sidecars(shop: RunningStack) -> None:
    url = shop.dapr_url("web") + "/v1.0/invoke/catalog/method/products/NOPE"
    assert httpx.get(url, headers=shop.dapr_headers("web")).status_code == 404


def test_search_narrows_the_home_page(shop: RunningStack) -> None:
    page = httpx.get(shop.app_url("web") + "/", params={"q": "kitchen"})
    assert "Mug" in page.text
    assert "Watch" not in page.text


def test_a_catalog_change_is_published_and_web_drops_its_cached_products(
    shop: RunningStack,
) -> None:
    assert "Candle Holder" in httpx.get(shop.app_url("web") + "/").text  # now cached
    product = httpx.get(
        shop.dapr_url("catalog") + "/v1.0/invoke/catalog/method/products/0PUK6V6EV0",
        headers=shop.dapr_headers("catalog"),
    ).json()
    product["name"] = "Brass Candle Holder"
    response = httpx.put(
        shop.dapr_url("web") + "/v1.0/invoke/catalog/method/products/0PUK6V6EV0",
        json=product,
        headers=shop.dapr_headers("web"),
    )
    assert response.status_code == 200

    def renamed_on_the_home_page() -> None:
        assert "Brass Candle Holder" in httpx.get(shop.app_url("web") + "/").text

    eventually(renamed_on_the_home_page)
    # The event travelled over the profile's real broker (Redis Streams by default).
    probes.assert_topic_carried(shop, "catalog-changed", subscriber="web")


def test_a_request_to_web_leaves_one_trace_with_spans_of_both_services_in_zipkin(
    shop: RunningStack,
) -> None:
    response = httpx.get(shop.app_url("web") + "/", params={"q": "trace-me"})
    assert response.status_code == 200

    def trace_has_both_services() -> None:
        traces = httpx.get(
            shop.zipkin_url + "/api/v2/traces",
            params={"serviceName": "catalog", "spanName": "get /products", "limit": 50},
        ).json()
        services = [
            {span["localEndpoint"]["serviceName"] for span in trace}
            for trace in traces
            if any(s.get("tags", {}).get("http.url", "").endswith("q=trace-me") for s in trace)
            or any("trace-me" in json.dumps(s.get("tags", {})) for s in trace)
        ]
        assert {"web", "catalog"} in services, services

    eventually(trace_has_both_services, timeout=30)
