"""tye.yaml describes the same services as the multi-app run file (Tye cannot run here)."""

import shlex
from pathlib import Path

import yaml

from sidecart.runfile import load

ROOT = Path(__file__).resolve().parents[2]


def tye() -> dict[str, object]:
    return yaml.safe_load((ROOT / "tye.yaml").read_text())  # type: ignore[no-any-return]


def test_tye_and_the_run_file_have_the_same_apps_ports_and_commands() -> None:
    _, apps = load(ROOT / "dapr" / "dapr.yaml")
    doc = tye()
    services = {s["name"]: s for s in doc["services"]}  # type: ignore[attr-defined]
    (dapr,) = [e for e in doc["extensions"] if e["name"] == "dapr"]  # type: ignore[attr-defined]
    assert set(services) == {a.app_id for a in apps}
    for app in apps:
        service = services[app.app_id]
        sidecar = dapr["services"][app.app_id]
        assert [service["executable"], *shlex.split(service["args"])] == app.command
        assert (ROOT / service["workingDirectory"]).resolve() == app.app_dir
        assert [b["port"] for b in service["bindings"]] == [app.app_port]
        assert sidecar["app-id"] == app.app_id
        assert sidecar["http-port"] == app.dapr_http_port
        assert sidecar["grpc-port"] == app.dapr_grpc_port
        assert sidecar["metrics-port"] == app.metrics_port
        assert {e["name"]: e["value"] for e in service["env"]} == app.env


def test_tye_uses_the_same_components_and_configuration_as_the_run_file() -> None:
    _, apps = load(ROOT / "dapr" / "dapr.yaml")
    (dapr,) = [e for e in tye()["extensions"] if e["name"] == "dapr"]  # type: ignore[attr-defined]
    tye_files = {p.resolve() for p in (ROOT / dapr["components-path"]).glob("*.yaml")}
    run_files = {p.resolve() for d in apps[0].resources_paths for p in d.glob("*.yaml")}
    assert tye_files == run_files
    assert (ROOT / dapr["config"]).resolve() == apps[0].config_file


def test_tye_commits_no_api_token() -> None:
    services = tye()["services"]
    names = {e["name"] for s in services for e in s.get("env", [])}  # type: ignore[attr-defined]
    assert not names & {"DAPR_API_TOKEN", "APP_API_TOKEN"}
