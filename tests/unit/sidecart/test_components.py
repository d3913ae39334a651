from pathlib import Path

import pytest
import yaml

from sidecart import components
from sidecart.errors import SidecartError

ROOT = Path(__file__).resolve().parents[3]

GOOD = """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec:
  type: state.redis
  version: v1
  metadata:
    - {name: redisHost, value: "localhost:6379"}
    - {name: redisPassword, secretKeyRef: {name: redis, key: password}}
"""


def folder(tmp_path: Path, **files: str) -> Path:
    target = tmp_path / "components"
    target.mkdir()
    for name, text in files.items():
        (target / name).write_text(text)
    return target


def test_every_component_in_the_repository_loads() -> None:
    dirs = [p for p in (ROOT / "components").rglob("*") if p.is_dir() and any(p.glob("*.yaml"))]
    names = {c.name for d in dirs for c in components.load_resources([d])}
    assert {"statestore", "pubsub"} <= names


def test_a_good_component_yields_its_plain_values(tmp_path: Path) -> None:
    (component,) = components.load_resources([folder(tmp_path, **{"s.yaml": GOOD})])
    assert component.type == "state.redis"
    assert component.metadata == {"redisHost": "localhost:6379"}


def test_broken_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    broken = GOOD.replace("  version: v1", "  version: [v1")
    with pytest.raises(SidecartError, match=r"s\.yaml: not valid YAML at line \d+"):
        components.load_resources([folder(tmp_path, **{"s.yaml": broken})])


def test_a_component_without_a_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SidecartError, match=r"spec\.type"):
        components.load_resources(
            [folder(tmp_path, **{"s.yaml": GOOD.replace("type: state.redis", "kind_of: x")})]
        )


def test_a_metadata_item_with_a_misspelt_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SidecartError, match=r"unknown key 'valeu'"):
        components.load_resources(
            [folder(tmp_path, **{"s.yaml": GOOD.replace('value: "localhost', 'valeu: "localhost')})]
        )


def test_two_components_with_one_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SidecartError, match="also defined in"):
        components.load_resources([folder(tmp_path, **{"a.yaml": GOOD, "b.yaml": GOOD})])


def test_materialize_rewrites_only_the_named_metadata(tmp_path: Path) -> None:
    src = folder(tmp_path, **{"s.yaml": GOOD})
    (out,) = components.materialize(
        [src], tmp_path / "out", {("state.redis", "redisHost"): "localhost:7000"}
    )
    doc = yaml.safe_load((out / "s.yaml").read_text())
    items = {i["name"]: i for i in doc["spec"]["metadata"]}
    assert items["redisHost"] == {"name": "redisHost", "value": "localhost:7000"}
    assert items["redisPassword"]["secretKeyRef"] == {"name": "redis", "key": "password"}
