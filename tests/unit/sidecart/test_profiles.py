"""Profiles: parsing the switch, swapping folders, capability gaps, addresses of each server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sidecart import profile_infra, profile_install, profiles
from sidecart.components import Component, load_resources
from sidecart.errors import SidecartError
from sidecart.procs import free_port
from sidecart.profiles import Profile
from sidecart.schema_check import CONTRIB_MODULE, go_module_cache

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, Profile()),
        ("", Profile()),
        ("redis", Profile()),
        ("kafka", Profile(pubsub="kafka")),
        ("kafka,postgres", Profile("kafka", "postgres")),
        (" Postgres , rabbitmq ", Profile("rabbitmq", "postgres")),
        ("sqlite", Profile(state="sqlite")),
        ("names=sqlite", Profile(names="sqlite")),
        ("pubsub=jetstream,state=etcd,nr=sqlite", Profile("jetstream", "etcd", "sqlite")),
    ],
)
def test_a_profile_spec_picks_one_choice_per_axis(spec: str | None, expected: Profile) -> None:
    assert profiles.parse(spec) == expected
    assert profiles.parse(expected.label) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mongo", "unknown name 'mongo'"),
        ("kafka,rabbitmq", "pubsub given twice ('kafka' and 'rabbitmq')"),
        ("state=kafka", "state 'kafka' is not one of"),
        ("broker=kafka", "unknown axis 'broker'"),
    ],
)
def test_a_bad_profile_spec_is_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(SidecartError, match=re.escape(message)):
        profiles.parse(spec)


def test_consul_is_refused_with_the_reason() -> None:
    reason = profiles.parse("names=consul").not_runnable()
    assert reason is not None
    assert "names 'consul' is not runnable here" in reason
    assert profiles.parse("kafka").not_runnable() is None


def test_a_marker_spec_is_satisfied_by_any_profile_making_that_choice() -> None:
    active = profiles.parse("kafka,postgres")
    assert profiles.satisfies(active, "kafka")
    assert profiles.satisfies(active, "state=postgres")
    assert not profiles.satisfies(active, "redis")
    assert not profiles.satisfies(active, "rabbitmq")


def test_the_matrix_covers_every_runnable_choice() -> None:
    rows = profiles.matrix_profiles()
    assert rows[0] == Profile()
    assert {r.pubsub for r in rows} == set(profiles.PUBSUB)
    assert {r.state for r in rows} == set(profiles.STATE)
    assert len({r.label for r in rows}) == len(rows)
    assert len(profiles.all_profiles()) == 4 * 4 * 3


def test_the_swap_replaces_only_the_pubsub_and_state_folders() -> None:
    comps = ROOT / "components"
    paths = [comps / "state/redis", comps / "pubsub/redis", comps / "bindings/localstorage"]
    swapped = profiles.swap_resources_paths(paths, profiles.parse("kafka,etcd"))
    assert swapped == [comps / "state/etcd", comps / "pubsub/kafka", paths[2]]


def test_a_run_file_without_a_folder_to_swap_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SidecartError, match="no components/pubsub/ folder"):
        profiles.swap_resources_paths([tmp_path], profiles.parse("kafka"))


@pytest.mark.parametrize("state", profiles.STATE)
def test_every_state_profile_defines_the_same_components_as_redis(state: str) -> None:
    def shape(folder: str) -> dict[str, tuple[object, ...]]:
        found = load_resources([ROOT / "components" / "state" / folder])
        return {
            c.name: (
                c.scopes,
                c.metadata.get("outboxPublishPubsub"),
                c.metadata.get("outboxPublishTopic"),
                c.metadata.get("outboxDiscardWhenMissingState"),
            )
            for c in found
        }

    assert shape(state) == shape("redis")
    assert set(shape(state)) == {"statestore", "orderstore"}


@pytest.mark.parametrize("pubsub", profiles.PUBSUB)
def test_every_pubsub_profile_defines_pubsub(pubsub: str) -> None:
    found = load_resources([ROOT / "components" / "pubsub" / pubsub])
    assert [(c.name, c.scopes) for c in found] == [("pubsub", ())]


def component(ctype: str, name: str = "statestore", **metadata: str) -> Component:
    return Component(name, ctype, Path(f"/x/{name}.yaml"), metadata)


def test_a_state_store_without_transactions_is_refused_naming_the_gap() -> None:
    with pytest.raises(SidecartError) as caught:
        profiles.check_capabilities([component("state.memcached")])
    line = str(caught.value)
    assert "\n" not in line
    assert "'statestore' (state.memcached) has no ETags" in line


def test_an_outbox_needs_transactions_whatever_the_component_name() -> None:
    outbox = component("state.cassandra", "mystore", outboxPublishPubsub="pubsub")
    with pytest.raises(SidecartError, match=r"has no transactions, but mystore publishes"):
        profiles.check_capabilities([outbox])


def test_an_unknown_state_type_is_refused_until_its_capabilities_are_known() -> None:
    with pytest.raises(SidecartError, match="not in Sidecart's capability table"):
        profiles.check_capabilities([component("state.fancy", "orderstore")])


def test_every_shipped_state_profile_has_what_the_app_needs() -> None:
    for state in profiles.STATE:
        profiles.check_capabilities(load_resources([ROOT / "components" / "state" / state]))


def test_the_capability_table_matches_the_features_in_components_contrib() -> None:
    """STATE_CAPABILITIES is copied from each store's Features(): re-read the Go sources."""
    contrib = go_module_cache() / CONTRIB_MODULE
    assert contrib.is_dir(), f"{contrib} missing: run `make bootstrap` (the daprd build)"
    names = {"transactions": "FeatureTransactional", "etag": "FeatureETag", "ttl": "FeatureTTL"}
    folders = {"state.postgresql": "state/postgresql/v2"}
    for ctype in ("state.redis", "state.postgresql", "state.etcd", "state.sqlite"):
        folder = contrib / folders.get(ctype, ctype.replace(".", "/"))
        source = "".join(p.read_text() for p in folder.glob("*.go") if "_test" not in p.name)
        offered = {cap for cap, go in names.items() if f"state.{go}" in source}
        assert offered == profiles.STATE_CAPABILITIES[ctype], ctype


def test_sqlite_name_resolution_lands_in_the_run_data_folder(tmp_path: Path) -> None:
    doc: dict[str, object] = {"spec": {"nameResolution": {"component": "mdns"}}}
    profiles.merge_name_resolution(doc, profiles.parse("names=sqlite"), tmp_path)
    block = doc["spec"]["nameResolution"]  # type: ignore[index]
    assert block["component"] == "sqlite"
    assert block["configuration"]["connectionString"] == str(tmp_path / "nameresolution.db")


@pytest.mark.parametrize(
    ("ctype", "key", "value", "expected"),
    [
        ("pubsub.kafka", "brokers", "localhost:19092", "localhost:4242"),
        ("pubsub.rabbitmq", "connectionString", "amqp://u:p@localhost:15670/v", None),
        ("pubsub.jetstream", "natsURL", "nats://localhost:14222", "nats://localhost:4242"),
        (
            "state.postgresql",
            "connectionString",
            "host=localhost port=15432 user=postgres",
            "host=localhost port=4242 user=postgres",
        ),
        ("state.etcd", "endpoints", "localhost:12379", "localhost:4242"),
    ],
)
def test_each_server_address_is_read_and_rewritten_to_the_started_port(
    ctype: str, key: str, value: str, expected: str | None
) -> None:
    comp = component(ctype, "c", **{key: value})
    server = profile_infra.ENDPOINTS[ctype][0].name
    endpoint = profile_infra.endpoint_of(comp)
    assert endpoint is not None and endpoint[0] == server and endpoint[1] == "localhost"
    out = profile_infra.overrides([comp], {server: 4242}, Path("/data"))
    assert out[(ctype, key)] == (expected or "amqp://u:p@localhost:4242/v")


def test_a_remote_broker_is_not_started_but_named() -> None:
    remote = component("pubsub.kafka", "pubsub", brokers="kafka.example:9092")
    with pytest.raises(
        SidecartError, match=re.escape("points at kafka.example:9092, not a local server")
    ):
        profile_infra.needs([remote])
    assert profile_infra.needs_for_run([remote], {}, external=True) == {}


def test_sqlite_state_files_go_to_the_data_folder(tmp_path: Path) -> None:
    store = component("state.sqlite", connectionString="sidecart-state.db")
    out = profile_infra.overrides([store], {}, tmp_path)
    assert out[("state.sqlite", "connectionString")] == str(tmp_path / "sqlite/sidecart-state.db")
    memory = component("state.sqlite", connectionString=":memory:")
    assert profile_infra.overrides([memory], {}, tmp_path) == {}


def test_a_broker_that_is_down_is_one_line_naming_component_and_address() -> None:
    port = free_port()
    down = component("pubsub.kafka", "pubsub", brokers=f"127.0.0.1:{port}")
    with pytest.raises(SidecartError) as caught:
        profile_infra.check_reachable([down], {})
    line = str(caught.value)
    assert line.startswith("component 'pubsub' (pubsub.kafka, pubsub.yaml): nothing answers at")
    assert f"127.0.0.1:{port}" in line and "kafka server down" in line


def test_bootstrap_installs_exactly_what_the_profile_needs() -> None:
    def names(spec: str) -> list[str]:
        return [s.name.split(" ")[0] for s in profile_install.steps_for(profiles.parse(spec))]

    assert "redis-server" in names("redis")
    kafka_pg = names("kafka,postgres")
    assert "redis-server" not in kafka_pg
    assert {"kafka", "postgres"} <= set(kafka_pg)
    assert "rabbitmq-server" not in kafka_pg
    assert {"nats-server", "etcd"} <= set(names("jetstream,etcd"))
    assert names("rabbitmq,sqlite")[-1] == "rabbitmq-server"


def test_the_kafka_pom_pins_slf4j_2_so_the_broker_logs_reach_the_log_file() -> None:
    pom = profile_install._POM
    assert "<artifactId>slf4j-api</artifactId>" in pom
    assert "log4j-slf4j2-impl" in pom


def test_the_dapr_config_keeps_mdns_as_the_self_hosted_default() -> None:
    config = yaml.safe_load((ROOT / "dapr" / "config.yaml").read_text())
    assert config["spec"]["nameResolution"]["component"] == "mdns"
