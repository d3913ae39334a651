"""`sidecart run` as a user runs it: one clear line on bad environments, nothing left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from sidecart.procs import free_port
from tests.conftest import ROOT

SIDECART = [sys.executable, "-m", "sidecart.cli"]


def two_app_run_file(tmp_path: Path, **app_overrides: object) -> Path:
    """The project's run file cut to web and catalog, on free ports, with its own Redis/Zipkin."""
    doc = yaml.safe_load((ROOT / "dapr" / "dapr.yaml").read_text())
    redis_port, zipkin_port = free_port(), free_port()
    resources = tmp_path / "components"
    resources.mkdir()
    for rel in doc["common"]["resourcesPaths"]:
        for src in (ROOT / "dapr" / rel).resolve().glob("*.yaml"):
            text = src.read_text().replace("localhost:6379", f"localhost:{redis_port}")
            (resources / src.name).write_text(text)
    config = yaml.safe_load((ROOT / "dapr" / "config.yaml").read_text())
    zipkin = f"http://localhost:{zipkin_port}/api/v2/spans"
    config["spec"]["tracing"]["zipkin"]["endpointAddress"] = zipkin
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    doc["common"]["resourcesPaths"] = [str(resources)]
    doc["common"]["configFilePath"] = str(tmp_path / "config.yaml")
    doc["common"]["env"]["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] = zipkin
    apps = [a for a in doc["apps"] if a["appID"] in {"web", "catalog"}]
    for app in apps:
        app["appDirPath"] = str((ROOT / "dapr" / app["appDirPath"]).resolve())
        for key in (
            "appPort",
            "daprHTTPPort",
            "daprGRPCPort",
            "daprInternalGRPCPort",
            "metricsPort",
        ):
            app[key] = free_port()
        app.update(app_overrides.get(app["appID"], {}))
    doc["apps"] = apps
    path = tmp_path / "dapr.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(run_file: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIDECART, "run", "-f", str(run_file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, **env},
        check=False,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The error lines; progress lines such as "starting ..." may surround them."""
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("sidecart: error:")]


def listening(ports: set[int]) -> set[int]:
    taken = set()
    for port in ports:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                taken.add(port)
    return taken


def ports_of(run_file: Path) -> set[int]:
    doc = yaml.safe_load(run_file.read_text())
    keys = ("appPort", "daprHTTPPort", "daprGRPCPort", "daprInternalGRPCPort", "metricsPort")
    return {app[k] for app in doc["apps"] for k in keys}


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_port_is_one_clear_line_and_nothing_starts(
    tmp_path: Path, occupied_port: int
) -> None:
    run_file = two_app_run_file(tmp_path, web={"appPort": occupied_port})
    result = run(run_file, tmp_path)
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert f"port {occupied_port} (app web) is already in use by pid {os.getpid()}" in line
    assert "Traceback" not in result.stderr
    assert not listening(ports_of(run_file) - {occupied_port})


def test_a_broken_component_yaml_is_one_clear_line_naming_file_and_line(tmp_path: Path) -> None:
    run_file = two_app_run_file(tmp_path)
    (tmp_path / "components" / "broken.yaml").write_text(
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\n"
        "spec:\n  type: state.redis\n  version: v1\n  metadata: [\n"
    )
    result = run(run_file, tmp_path)
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert "broken.yaml: not valid YAML at line" in line
    assert not listening(ports_of(run_file))


def test_a_run_file_with_an_unknown_field_is_one_clear_line(tmp_path: Path) -> None:
    run_file = two_app_run_file(tmp_path, catalog={"appPrt": 8000})
    result = run(run_file, tmp_path)
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert "apps[1].appPrt: unknown field" in line


def test_a_missing_daprd_is_one_clear_line(tmp_path: Path) -> None:
    run_file = two_app_run_file(tmp_path)
    result = run(run_file, tmp_path, DAPR_INSTALL_DIR=str(tmp_path / "no-dapr"))
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert "daprd not found" in line and "make bootstrap" in line


def test_redis_failing_to_start_is_one_clear_line_and_everything_started_is_stopped(
    tmp_path: Path,
) -> None:
    run_file = two_app_run_file(tmp_path)
    # Redis refuses to start on a corrupt snapshot in its data folder; the launcher must say so.
    state = tmp_path / "state"
    (state / "data" / "redis").mkdir(parents=True)
    (state / "data" / "redis" / "dump.rdb").write_bytes(b"REDIS0011 not really a snapshot")
    result = run(run_file, tmp_path, SIDECART_STATE_DIR=str(state))
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert line.startswith("sidecart: error: redis failed to start:"), line
    assert "Traceback" not in result.stderr
    assert not listening(ports_of(run_file))
    zipkin_port = int(
        yaml.safe_load((tmp_path / "config.yaml").read_text())["spec"]["tracing"]["zipkin"][
            "endpointAddress"
        ]
        .rsplit(":", 1)[1]
        .split("/")[0]
    )
    assert not listening({zipkin_port})


def test_run_serves_the_shop_and_sigint_leaves_no_process_and_no_port_behind(
    tmp_path: Path,
) -> None:
    run_file = two_app_run_file(tmp_path)
    with subprocess.Popen(
        [*SIDECART, "run", "-f", str(run_file)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SIDECART_STATE_DIR": str(tmp_path / "state")},
    ) as launcher:
        try:
            assert launcher.stderr is not None
            banner = []
            for line in launcher.stderr:
                banner.append(line)
                if "Ctrl-C stops everything" in line:
                    break
            assert any("all sidecars and apps healthy" in line for line in banner), banner
            web_port = yaml.safe_load(run_file.read_text())["apps"][0]["appPort"]
            page = httpx.get(f"http://127.0.0.1:{web_port}/")
            assert page.status_code == 200 and "Sunglasses" in page.text
            children = psutil.Process(launcher.pid).children(recursive=True)
            assert len(children) >= 6  # redis, zipkin, 2 apps, 2 sidecars
            launcher.send_signal(signal.SIGINT)
            assert launcher.wait(timeout=60) == 0
        finally:
            if launcher.poll() is None:
                launcher.kill()
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not listening(ports_of(run_file))
