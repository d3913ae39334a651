"""The Kubernetes profiles render with kustomize and swap exactly what the local profiles swap.

Each folder in k8s/profiles is a kustomize Component mirroring one folder of components/: the
same component names, types, versions, scopes and settings, with only the address (or the
secret holding it) changed for the cluster. The Deployments must come out of every profile
unchanged: a swap never touches the apps.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecart import jetstream, schema_check
from sidecart.bootstrap import kustomize_bin
from sidecart.profile_infra import ENDPOINTS
from tests.conftest import ROOT

K8S = ROOT / "k8s"
PROFILES = sorted(p.name for p in (K8S / "profiles").iterdir() if p.is_dir())
# Where a component names its server: the one value a cluster profile may set differently.
ADDRESS_KEYS = {key for _, key, _ in ENDPOINTS.values()}


def kustomize(folder: Path) -> list[dict[str, Any]]:
    binary = kustomize_bin()
    assert binary.is_file(), f"{binary} missing: run `make bootstrap`"
    result = subprocess.run(
        [str(binary), "build", str(folder)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    """The base as rendered once for the module: every profile is compared with it."""
    return kustomize(K8S / "base")


@pytest.fixture(scope="module")
def checker() -> schema_check.Checker:
    return schema_check.Checker.from_module_cache()


def with_profiles(tmp_path: Path, *profiles: str) -> list[dict[str, Any]]:
    """The base with `profiles` swapped in, as a user's overlay would write it."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(K8S / "base", overlay)],
        "components": [os.path.relpath(K8S / "profiles" / p, overlay) for p in profiles],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    return kustomize(overlay)


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def local_components(profile: str) -> dict[str, dict[str, Any]]:
    """The local twin of a cluster profile: `pubsub-kafka` is components/pubsub/kafka."""
    category, _, name = profile.partition("-")
    folder = ROOT / "components" / category / name
    docs = [d for p in sorted(folder.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text())]
    return by_kind([d for d in docs if d], "Component")


def settings(component: dict[str, Any]) -> dict[str, Any]:
    return {m["name"]: m.get("value") for m in component["spec"]["metadata"]}


def test_every_local_profile_that_suits_a_cluster_has_a_cluster_profile() -> None:
    """SQLite is left out: a file per sidecar is not a store that replicas share."""
    assert PROFILES == [
        "pubsub-jetstream",
        "pubsub-kafka",
        "pubsub-rabbitmq",
        "state-etcd",
        "state-postgres",
    ]


def test_the_base_renders_every_listed_manifest(base: list[dict[str, Any]]) -> None:
    docs = base
    assert set(by_kind(docs, "Component")) == {"statestore", "orderstore", "pubsub", "email"}
    assert len(by_kind(docs, "Deployment")) == 6
    assert all(d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "sidecart" for d in docs)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_cluster_profile_swaps_the_local_profiles_components_and_nothing_else(
    profile: str, tmp_path: Path, base: list[dict[str, Any]]
) -> None:
    swapped = with_profiles(tmp_path, profile)
    cluster = by_kind(swapped, "Component")
    local = local_components(profile)
    assert local and set(local) <= set(cluster)
    for name, twin in local.items():
        component = cluster[name]
        assert component["spec"]["type"] == twin["spec"]["type"]
        assert component["spec"]["version"] == twin["spec"]["version"]
        assert component.get("scopes") == twin.get("scopes")
        ours, theirs = settings(component), settings(twin)
        assert set(ours) == set(theirs), name
        differing = {k for k in ours if ours[k] != theirs[k]}
        assert differing <= ADDRESS_KEYS, f"{name}: {sorted(differing)} differ from the local run"
    untouched = set(by_kind(base, "Component")) - set(local)
    for name in untouched:
        assert cluster[name] == by_kind(base, "Component")[name]
    assert by_kind(swapped, "Deployment") == by_kind(base, "Deployment")
    assert by_kind(swapped, "Configuration") == by_kind(base, "Configuration")


@pytest.mark.parametrize("profile", PROFILES)
def test_what_a_cluster_profile_renders_fits_the_dapr_schemas(
    profile: str, tmp_path: Path, checker: schema_check.Checker
) -> None:
    problems = [
        f"{d['kind']} {d['metadata']['name']}: {problem}"
        for d in with_profiles(tmp_path, profile)
        if str(d["apiVersion"]).startswith(("dapr.io/", "jetstream.nats.io/"))
        for problem in checker.check_document(d)
    ]
    assert problems == []


def test_the_jetstream_profile_brings_the_same_streams_as_the_local_run(tmp_path: Path) -> None:
    rendered = [
        jetstream.StreamSpec.model_validate(d["spec"])
        for d in with_profiles(tmp_path, "pubsub-jetstream")
        if jetstream.is_stream_document(d)
    ]
    local = jetstream.load_streams([ROOT / "components" / "pubsub" / "jetstream"])
    assert sorted(rendered, key=lambda s: s.name) == sorted(
        (s.spec for s in local), key=lambda s: s.name
    )


def test_the_kafka_postgres_overlay_combines_a_pubsub_and_a_state_profile() -> None:
    components = by_kind(kustomize(K8S / "overlays" / "kafka-postgres"), "Component")
    assert components["pubsub"]["spec"]["type"] == "pubsub.kafka"
    assert components["statestore"]["spec"]["type"] == "state.postgresql"
    assert components["orderstore"]["spec"]["type"] == "state.postgresql"
    assert components["email"]["spec"]["type"] == "bindings.localstorage"
