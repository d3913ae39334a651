from pathlib import Path

import pytest
import yaml

from sidecart.errors import SidecartError
from sidecart.launcher import AppPorts, Stack, StackOptions
from sidecart.paths import dapr_bin_dir
from sidecart.runfile import load

ROOT = Path(__file__).resolve().parents[3]
PORTS = AppPorts(app=8080, http=3500, grpc=50001, internal_grpc=50101, metrics=9091)


def web_app() -> object:
    _, apps = load(ROOT / "dapr" / "dapr.yaml")
    return next(a for a in apps if a.app_id == "web")


def stack() -> Stack:
    return Stack(
        StackOptions(run_file=ROOT / "dapr" / "dapr.yaml", log_dir=Path(), data_dir=Path())
    )


def pairs(args: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, arg in enumerate(args):
        if arg.startswith("--") and index + 1 < len(args) and not args[index + 1].startswith("--"):
            out.setdefault(arg, args[index + 1])
    return out


def test_daprd_gets_the_flags_the_dapr_cli_would_pass() -> None:
    app = web_app()
    args = stack().daprd_args(app, PORTS, {})  # type: ignore[arg-type]
    flags = pairs(args)
    assert flags["--app-id"] == "web"
    assert flags["--app-port"] == "8080"
    assert flags["--dapr-http-port"] == "3500"
    assert flags["--dapr-grpc-port"] == "50001"
    assert flags["--metrics-port"] == "9091"
    assert flags["--dapr-listen-addresses"] == "127.0.0.1"
    assert flags["--app-health-check-path"] == "/_healthz"
    assert flags["--config"].endswith("dapr/config.yaml")
    assert args.count("--resources-path") == 4  # state, pubsub, bindings, resiliency
    assert "--log-as-json" in args
    # An empty placement address in the run file means "no placement", as with the CLI.
    assert "--placement-host-address" not in args


def test_the_app_gets_the_environment_the_dapr_cli_would_set() -> None:
    env = stack().app_env(web_app(), PORTS)  # type: ignore[arg-type]
    assert env["APP_ID"] == "web"
    assert env["APP_PORT"] == "8080"
    assert env["DAPR_HTTP_PORT"] == "3500"
    assert env["DAPR_GRPC_PORT"] == "50001"
    assert env["DAPR_METRICS_PORT"] == "9091"
    assert env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"].endswith("/api/v2/spans")


@pytest.mark.skipif(not (dapr_bin_dir() / "daprd").is_file(), reason="needs daprd (make bootstrap)")
def test_a_local_storage_binding_writes_into_the_stacks_own_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = Stack(
        StackOptions(
            run_file=ROOT / "dapr" / "dapr.yaml", log_dir=tmp_path, data_dir=data, free_ports=True
        )
    )
    run.plan()
    dirs, _ = run._write_effective_resources()
    (email,) = [path for folder in dirs for path in folder.glob("email.yaml")]
    items = {i["name"]: i["value"] for i in yaml.safe_load(email.read_text())["spec"]["metadata"]}
    assert items["rootPath"] == str((data / "localstorage").resolve())


NEEDS_DAPRD = pytest.mark.skipif(
    not (dapr_bin_dir() / "daprd").is_file(), reason="needs daprd (make bootstrap)"
)


def planned(tmp_path: Path, **options: object) -> Stack:
    run = Stack(
        StackOptions(
            run_file=ROOT / "dapr" / "dapr.yaml",
            log_dir=tmp_path,
            data_dir=tmp_path,
            free_ports=True,
            **options,  # type: ignore[arg-type]
        )
    )
    run.plan()
    return run


def token_values(run: Stack) -> set[str]:
    return {value for pair in run.tokens.values() for value in pair.env().values()}


@NEEDS_DAPRD
def test_each_app_and_its_daprd_share_one_fresh_token_pair(tmp_path: Path) -> None:
    run = planned(tmp_path)
    assert set(run.tokens) == {app.app_id for app in run.apps}
    for app in run.apps:
        daprd, program = run.daprd_env(app), run.app_env(app, run.ports[app.app_id])
        for name in ("DAPR_API_TOKEN", "APP_API_TOKEN"):
            assert daprd[name] == program[name]
        assert daprd["DAPR_API_TOKEN"] != daprd["APP_API_TOKEN"]
        assert len(daprd["DAPR_API_TOKEN"]) >= 32
    assert len(token_values(run)) == 2 * len(run.apps)  # no token shared between apps


@NEEDS_DAPRD
def test_two_runs_never_share_a_token(tmp_path: Path) -> None:
    assert not token_values(planned(tmp_path)) & token_values(planned(tmp_path))


@NEEDS_DAPRD
def test_the_tokens_are_on_no_command_line_and_in_no_repr(tmp_path: Path) -> None:
    run = planned(tmp_path)
    tokens = token_values(run)
    for app in run.apps:
        argv = [*run.daprd_args(app, run.ports[app.app_id], {}), *app.command]
        assert not any(token in arg for token in tokens for arg in argv)
    assert not any(token in repr(run) for token in tokens)


@NEEDS_DAPRD
def test_with_tokens_off_neither_process_gets_one_even_from_the_launchers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAPR_API_TOKEN", "left-over-from-the-users-shell")
    monkeypatch.setenv("APP_API_TOKEN", "left-over-from-the-users-shell")
    run = planned(tmp_path, api_tokens=False)
    assert run.tokens == {}
    for app in run.apps:
        daprd, program = run.daprd_env(app), run.app_env(app, run.ports[app.app_id])
        assert "DAPR_API_TOKEN" not in daprd and "APP_API_TOKEN" not in daprd
        assert "DAPR_API_TOKEN" not in program and "APP_API_TOKEN" not in program


@NEEDS_DAPRD
def test_a_token_given_in_the_overrides_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    with pytest.raises(SidecartError, match="extra env sets APP_API_TOKEN: the launcher makes"):
        planned(tmp_path, extra_env={"APP_API_TOKEN": "fixed-token-0123456789"})
