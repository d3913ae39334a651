"""Every YAML under components/ and dapr/ against the schemas Dapr ships (Go module cache).

The schemas are each component's metadata.yaml in components-contrib v1.18.0 and the CRDs of
dapr v1.18.1; the daprd build (`make bootstrap`) puts both in the Go module cache. Without them
this test fails, naming what is missing: it never skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecart import schema_check
from sidecart.errors import SidecartError

ROOT = Path(__file__).resolve().parents[3]
FILES = schema_check.resource_files(ROOT)


@pytest.fixture(scope="module")
def checker() -> schema_check.Checker:
    try:
        return schema_check.Checker.from_module_cache()
    except SidecartError as exc:
        pytest.fail(f"Dapr's schemas are not on disk: {exc}", pytrace=False)


def test_the_resource_files_include_every_profile_and_the_consul_variant() -> None:
    names = {str(p.relative_to(ROOT)) for p in FILES}
    assert "dapr/nameresolution/consul.yaml" in names
    assert "components/pubsub/kafka/pubsub.yaml" in names
    assert "components/state/postgres/orderstore.yaml" in names
    assert "dapr/config.yaml" in names


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_resource_file_matches_the_dapr_schemas(
    checker: schema_check.Checker, path: Path
) -> None:
    assert checker.check_file(path) == []


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


COMPONENT = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.kafka
  version: v1
  metadata:
    - name: brokers
      value: localhost:19092
    - name: authType
      value: none
"""


def test_a_valid_component_passes(checker: schema_check.Checker, tmp_path: Path) -> None:
    assert checker.check_file(write(tmp_path, COMPONENT)) == []


def test_a_misspelt_metadata_field_is_named_with_a_suggestion(
    checker: schema_check.Checker, tmp_path: Path
) -> None:
    errors = checker.check_file(write(tmp_path, COMPONENT.replace("brokers", "brokerz")))
    assert any("metadata 'brokerz' is not a field of pubsub.kafka" in e for e in errors), errors
    assert any("did you mean 'brokers'" in e for e in errors), errors
    assert any("required metadata 'brokers' is missing" in e for e in errors), errors


def test_a_value_of_the_wrong_type_or_outside_the_allowed_values_is_named(
    checker: schema_check.Checker, tmp_path: Path
) -> None:
    text = COMPONENT.replace("value: none", "value: kerberos") + (
        "    - name: consumeRetryEnabled\n      value: maybe\n"
    )
    errors = checker.check_file(write(tmp_path, text))
    assert any("'kerberos' is not one of" in e for e in errors), errors
    assert any("'maybe' is not a bool" in e for e in errors), errors


def test_an_unknown_version_and_a_misspelt_crd_field_are_named(
    checker: schema_check.Checker, tmp_path: Path
) -> None:
    text = COMPONENT.replace("version: v1", "version: v7").replace("scopes", "x") + "scope: [a]\n"
    errors = checker.check_file(write(tmp_path, text))
    assert any("version 'v7' is not one of ['v1']" in e for e in errors), errors
    assert any("'scope' was unexpected" in e for e in errors), errors


def test_the_consul_fragment_is_checked_against_its_own_metadata(
    checker: schema_check.Checker, tmp_path: Path
) -> None:
    folder = tmp_path / "dapr" / "nameresolution"
    folder.mkdir(parents=True)
    good = (ROOT / "dapr" / "nameresolution" / "consul.yaml").read_text()
    assert checker.check_file(write(folder, good, "consul.yaml")) == []
    bad = write(folder, good.replace("selfRegister", "selfRegistr"), "consul.yaml")
    errors = checker.check_file(bad)
    assert any("'selfRegistr' is not read by nameresolution.hashicorp.consul" in e for e in errors)


def test_missing_schemas_fail_with_the_command_that_installs_them(tmp_path: Path) -> None:
    with pytest.raises(SidecartError, match=r"run `make bootstrap`"):
        schema_check.Checker.from_module_cache(tmp_path)
