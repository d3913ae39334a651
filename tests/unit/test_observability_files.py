"""The Grafana dashboards and provisioning files are well-formed and agree with each other."""

from __future__ import annotations

import yaml

from tests.dashboards import DASHBOARDS, GRAFANA, load, panels, queries, variables


def datasource_uids() -> set[str]:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "sidecart.yml").read_text())
    return {source["uid"] for source in doc["datasources"]}


def test_there_is_a_shop_and_a_sidecar_dashboard() -> None:
    titles = {load(path)["title"] for path in DASHBOARDS}
    assert titles == {"Sidecart / Shop", "Sidecart / Dapr sidecars"}


def test_every_panel_uses_the_provisioned_prometheus() -> None:
    uids = datasource_uids()
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in uids, (path.name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids


def test_panel_ids_and_uids_are_unique_and_every_panel_has_a_query() -> None:
    seen_uids = set()
    for path in DASHBOARDS:
        doc = load(path)
        assert doc["uid"] not in seen_uids
        seen_uids.add(doc["uid"])
        ids = [panel["id"] for panel in panels(doc)]
        assert len(ids) == len(set(ids)), path.name
        for panel in panels(doc):
            if panel["type"] != "row":
                assert panel["targets"], (path.name, panel["title"])
        assert len(queries(path)) >= 10


def test_grafana_variables_are_substituted_away() -> None:
    for path in DASHBOARDS:
        names = variables(load(path))
        for query in queries(path):
            assert "$" not in query.promql(names), query


def test_the_dashboard_provider_points_at_the_dashboards_folder() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "sidecart.yml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].endswith("/observability/grafana/dashboards")
