"""The Dapr CLI's multi-app run file (version 1), read strictly.

The models mirror the fields the Dapr CLI knows (its `runfileconfig` and `standalone.RunConfig`);
an unknown field is refused, so a misspelt one never passes silently here while the CLI would
ignore it. Relative paths are resolved against the run file's folder, as the CLI does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sidecart.errors import SidecartError

T = TypeVar("T")


class Shared(BaseModel):
    """Fields allowed both under `common` and per app (the CLI's SharedRunConfig)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    config_file_path: str | None = Field(None, alias="configFilePath")
    app_protocol: Literal["http", "grpc", "https", "grpcs", "h2c"] | None = Field(
        None, alias="appProtocol"
    )
    api_listen_addresses: str | None = Field(None, alias="apiListenAddresses")
    enable_profiling: bool | None = Field(None, alias="enableProfiling")
    log_level: Literal["debug", "info", "warn", "error", "fatal"] | None = Field(
        None, alias="logLevel"
    )
    app_max_concurrency: int | None = Field(None, alias="appMaxConcurrency")
    placement_host_address: str | None = Field(None, alias="placementHostAddress")
    scheduler_host_address: str | None = Field(None, alias="schedulerHostAddress")
    resources_path: str | None = Field(None, alias="resourcesPath")
    resources_paths: list[str] | None = Field(None, alias="resourcesPaths")
    app_ssl: bool | None = Field(None, alias="appSSL")
    max_body_size: str | None = Field(None, alias="maxBodySize")
    read_buffer_size: str | None = Field(None, alias="readBufferSize")
    enable_app_health_check: bool | None = Field(None, alias="enableAppHealthCheck")
    app_health_check_path: str | None = Field(None, alias="appHealthCheckPath")
    app_health_probe_interval: int | None = Field(None, alias="appHealthProbeInterval")
    app_health_probe_timeout: int | None = Field(None, alias="appHealthProbeTimeout")
    app_health_threshold: int | None = Field(None, alias="appHealthThreshold")
    enable_api_logging: bool | None = Field(None, alias="enableApiLogging")
    runtime_path: str | None = Field(None, alias="runtimePath")
    env: dict[str, str] = Field(default_factory=dict)
    daprd_log_destination: Literal["file", "console", "fileAndConsole"] | None = Field(
        None, alias="daprdLogDestination"
    )
    app_log_destination: Literal["file", "console", "fileAndConsole"] | None = Field(
        None, alias="appLogDestination"
    )


class App(Shared):
    app_id: str = Field(alias="appID", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    app_dir_path: str = Field(alias="appDirPath")
    app_channel_address: str | None = Field(None, alias="appChannelAddress")
    app_port: int | None = Field(None, alias="appPort", gt=0, lt=65536)
    dapr_http_port: int | None = Field(None, alias="daprHTTPPort", gt=0, lt=65536)
    dapr_grpc_port: int | None = Field(None, alias="daprGRPCPort", gt=0, lt=65536)
    dapr_internal_grpc_port: int | None = Field(None, alias="daprInternalGRPCPort", gt=0, lt=65536)
    metrics_port: int | None = Field(None, alias="metricsPort", gt=0, lt=65536)
    profile_port: int | None = Field(None, alias="profilePort", gt=0, lt=65536)
    unix_domain_socket: str | None = Field(None, alias="unixDomainSocket")
    command: list[str] = Field(default_factory=list)
    container_image: str | None = Field(None, alias="containerImage")
    container_image_pull_policy: str | None = Field(None, alias="containerImagePullPolicy")
    create_service: bool | None = Field(None, alias="createService")


class RunFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    name: str | None = None
    common: Shared = Field(default_factory=Shared)
    apps: list[App] = Field(min_length=1)


class ResolvedApp(BaseModel):
    """One app with `common` merged in (the app's own value wins) and paths made absolute."""

    app_id: str
    app_dir: Path
    command: list[str]
    app_port: int | None
    dapr_http_port: int | None
    dapr_grpc_port: int | None
    dapr_internal_grpc_port: int | None
    metrics_port: int | None
    resources_paths: list[Path]
    config_file: Path | None
    app_protocol: str
    api_listen_addresses: str | None
    placement_host_address: str | None
    scheduler_host_address: str | None
    log_level: str | None
    enable_app_health_check: bool
    app_health_check_path: str | None
    max_body_size: str | None
    env: dict[str, str]


def _pick(own: T | None, common: T | None) -> T | None:
    return own if own is not None else common


def _merge(common: Shared, app: App, base: Path) -> ResolvedApp:
    paths = _pick(app.resources_paths, common.resources_paths) or []
    single = _pick(app.resources_path, common.resources_path)
    if not paths and single:
        paths = [single]
    config = _pick(app.config_file_path, common.config_file_path)
    return ResolvedApp(
        app_id=app.app_id,
        app_dir=(base / app.app_dir_path).resolve(),
        command=app.command,
        app_port=app.app_port,
        dapr_http_port=app.dapr_http_port,
        dapr_grpc_port=app.dapr_grpc_port,
        dapr_internal_grpc_port=app.dapr_internal_grpc_port,
        metrics_port=app.metrics_port,
        resources_paths=[(base / p).resolve() for p in paths],
        config_file=(base / config).resolve() if config else None,
        app_protocol=_pick(app.app_protocol, common.app_protocol) or "http",
        api_listen_addresses=_pick(app.api_listen_addresses, common.api_listen_addresses),
        placement_host_address=_pick(app.placement_host_address, common.placement_host_address),
        scheduler_host_address=_pick(app.scheduler_host_address, common.scheduler_host_address),
        log_level=_pick(app.log_level, common.log_level),
        enable_app_health_check=bool(
            _pick(app.enable_app_health_check, common.enable_app_health_check)
        ),
        app_health_check_path=_pick(app.app_health_check_path, common.app_health_check_path),
        max_body_size=_pick(app.max_body_size, common.max_body_size),
        env={**common.env, **app.env},
    )


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in first["loc"])
    where = where.replace(".[", "[")
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown field (not a Dapr CLI run-file field)"
    return f"{where or 'top level'}: {first['msg']}"


def load(path: Path) -> tuple[RunFile, list[ResolvedApp]]:
    """Read and check a run file; any problem is one SidecartError naming the file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SidecartError(f"{path}: run file not found") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise SidecartError(f"{path}: not valid YAML{at}") from exc
    try:
        runfile = RunFile.model_validate(raw)
    except ValidationError as exc:
        raise SidecartError(f"{path}: {_describe(exc)}") from exc
    base = path.resolve().parent
    apps = [_merge(runfile.common, app, base) for app in runfile.apps]
    seen: set[str] = set()
    for app in apps:
        if app.app_id in seen:
            raise SidecartError(f"{path}: appID {app.app_id!r} appears twice")
        seen.add(app.app_id)
        if not app.app_dir.is_dir():
            raise SidecartError(
                f"{path}: app {app.app_id}: appDirPath {app.app_dir} is not a folder"
            )
    return runfile, apps
