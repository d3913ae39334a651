"""`sidecart run` with profiles: what it refuses, in one line, before anything is left running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sidecart.errors import SidecartError
from sidecart.launcher import Stack, StackOptions
from sidecart.procs import free_port
from tests.conftest import ROOT

SIDECART = [sys.executable, "-m", "sidecart.cli"]


def catalog_run_file(tmp_path: Path, components: dict[str, str]) -> Path:
    """The project's run file cut to the catalog, with the given component files only."""
    doc = yaml.safe_load((ROOT / "dapr" / "dapr.yaml").read_text())
    folder = tmp_path / "components"
    folder.mkdir()
    for name, text in components.items():
        (folder / name).write_text(text)
    doc["common"]["resourcesPaths"] = [str(folder)]
    doc["common"]["configFilePath"] = str(ROOT / "dapr" / "config.yaml")
    doc["apps"] = [
        {**app, "appDirPath": str((ROOT / "dapr" / app["appDirPath"]).resolve())}
        for app in doc["apps"]
        if app["appID"] == "catalog"
    ]
    path = tmp_path / "dapr.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def kafka_pubsub(port: int) -> str:
    text = (ROOT / "components/pubsub/kafka/pubsub.yaml").read_text()
    return text.replace("localhost:19092", f"127.0.0.1:{port}")


def sqlite_state(name: str) -> str:
    return (ROOT / f"components/state/sqlite/{name}.yaml").read_text()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIDECART, *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


def test_a_broker_that_is_down_at_start_is_one_line_naming_component_and_address(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    run_file = catalog_run_file(
        tmp_path, {"pubsub.yaml": kafka_pubsub(port), "statestore.yaml": sqlite_state("statestore")}
    )
    stack = Stack(
        StackOptions(
            run_file=run_file,
            log_dir=tmp_path / "logs",
            data_dir=tmp_path / "data",
            free_ports=True,
            external_infra=True,
        )
    )
    with pytest.raises(SidecartError) as caught:
        stack.start()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("component 'pubsub' (pubsub.kafka, pubsub.yaml): nothing answers")
    assert f"127.0.0.1:{port}" in message
    assert "kafka" not in {p.name for p in stack.processes}
    assert all(p.exit_code() is not None for p in stack.processes)  # what started is stopped


def test_a_state_store_lacking_what_the_app_relies_on_is_refused_by_sidecart_run(
    tmp_path: Path,
) -> None:
    memcached = (
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\n"
        "spec:\n  type: state.memcached\n  version: v1\n  metadata:\n"
        "    - name: hosts\n      value: localhost:11211\n"
    )
    run_file = catalog_run_file(tmp_path, {"statestore.yaml": memcached})
    result = run_cli("run", "-f", str(run_file))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "component 'statestore' (state.memcached) has no ETags" in lines[0]


def test_a_jetstream_component_without_declared_streams_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    pubsub = (ROOT / "components/pubsub/jetstream/pubsub.yaml").read_text()
    run_file = catalog_run_file(
        tmp_path, {"pubsub.yaml": pubsub, "statestore.yaml": sqlite_state("statestore")}
    )
    result = run_cli("run", "-f", str(run_file))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "component 'pubsub' (pubsub.jetstream) needs JetStream streams" in lines[0]


def test_the_consul_name_resolution_is_refused_as_not_runnable_here() -> None:
    result = run_cli("run", "--profile", "names=consul")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "sidecart: error: profile names=consul: names 'consul' is not runnable here: no Consul "
        "agent can be installed from the registries this machine reaches; "
        "dapr/nameresolution/consul.yaml is kept schema-checked only"
    ]


def test_an_unknown_profile_is_one_clear_line() -> None:
    result = run_cli("run", "--profile", "kafka,mongo")
    assert result.returncode == 2
    assert "unknown name 'mongo'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
