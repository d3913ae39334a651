"""The infrastructure a profile needs, run as the project's own processes on 127.0.0.1.

Which servers to start is read off the component YAML and the Dapr Configuration: a
`state.redis` component whose redisHost is localhost:6379 means a Redis on 6379, a Zipkin
endpoint on localhost:9411 means a Zipkin there. No system service is touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from sidecart.bootstrap import zipkin_jar
from sidecart.components import Component
from sidecart.errors import SidecartError
from sidecart.procs import ManagedProcess, http_ok, tcp_open


@dataclass(frozen=True)
class Server:
    """One infrastructure server kind: how to start it and how to know it is ready."""

    name: str
    argv: Callable[[int, Path], list[str]]
    ready: Callable[[int], Callable[[], bool]]
    startup_timeout: float
    env: Mapping[str, str] | None = None


def _redis_argv(port: int, data: Path) -> list[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SidecartError("redis-server not found: run `make bootstrap` (installs it with apt)")
    return [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data),
        "--save",
        "60 1",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        "--logfile",
        "",
    ]


def _zipkin_argv(port: int, data: Path) -> list[str]:
    java = shutil.which("java")
    if java is None or not zipkin_jar().is_file():
        raise SidecartError("Zipkin is not installed: run `make bootstrap`")
    return [
        java,
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-jar",
        str(zipkin_jar()),
        f"--armeria.ports[0].port={port}",
        "--armeria.ports[0].ip=127.0.0.1",
        "--armeria.ports[0].protocols=http",
    ]


REDIS = Server("redis", _redis_argv, tcp_open, startup_timeout=15)
ZIPKIN = Server(
    "zipkin",
    _zipkin_argv,
    lambda port: http_ok(f"http://127.0.0.1:{port}/health"),
    startup_timeout=90,
    env={"STORAGE_TYPE": "mem", "MEM_MAX_SPANS": "500000"},
)

# (component type, metadata field holding host:port) -> the server that satisfies it.
BY_COMPONENT: dict[str, tuple[Server, str]] = {
    "state.redis": (REDIS, "redisHost"),
    "pubsub.redis": (REDIS, "redisHost"),
}

# (component type) -> metadata field naming a folder on this machine. A stack rewrites it to a
# folder of its own data dir (`<data>/localstorage`), so each stack keeps its files apart.
LOCAL_FOLDERS: dict[str, str] = {
    "bindings.localstorage": "rootPath",
}


def local_folder(data_dir: Path, component_type: str) -> Path:
    return (data_dir / component_type.rpartition(".")[2]).resolve()


@dataclass
class Need:
    server: Server
    port: int
    wanted_by: list[str]


def host_port(value: str, what: str) -> int:
    host, _, port = value.rpartition(":")
    if host not in {"localhost", "127.0.0.1"} or not port.isdigit():
        raise SidecartError(f"{what}: {value!r} is not a local host:port Sidecart can start")
    return int(port)


def needs(components: Sequence[Component], config: Mapping[str, Any]) -> dict[str, Need]:
    """Servers to start, keyed by name, each with the port the YAML expects it on."""
    found: dict[str, Need] = {}
    for component in components:
        entry = BY_COMPONENT.get(component.type)
        if entry is None:
            continue
        server, key = entry
        value = component.metadata.get(key)
        if value is None:
            raise SidecartError(f"{component.path}: component {component.name!r} has no {key}")
        port = host_port(value, f"{component.path}: {key}")
        need = found.setdefault(server.name, Need(server, port, []))
        if need.port != port:
            raise SidecartError(
                f"{component.path}: {server.name} on port {port}, "
                f"but another component wants {need.port}"
            )
        need.wanted_by.append(component.name)
    endpoint = zipkin_endpoint(config)
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.hostname in {"localhost", "127.0.0.1"} and parts.port:
            found["zipkin"] = Need(ZIPKIN, parts.port, ["tracing"])
    return found


def zipkin_endpoint(config: Mapping[str, Any]) -> str | None:
    tracing = (config.get("spec") or {}).get("tracing") or {}
    value = (tracing.get("zipkin") or {}).get("endpointAddress")
    return str(value) if value else None


def process_for(need: Need, data_root: Path, log_dir: Path, echo: IO[str] | None) -> ManagedProcess:
    data = data_root / need.server.name
    data.mkdir(parents=True, exist_ok=True)

    env = {**os.environ, **(need.server.env or {})}
    return ManagedProcess(
        name=need.server.name,
        argv=need.server.argv(need.port, data),
        log_path=log_dir / f"{need.server.name}.log",
        env=env,
        echo=echo,
        colour=9,
    )
