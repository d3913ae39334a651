"""Run a Dapr multi-app run file: infrastructure, then each app beside its own daprd.

`sidecart run` and the pytest harness both drive a `Stack`. For each app it starts daprd with the
flags the Dapr CLI would pass and the app with the environment the CLI would set, waits until
every sidecar answers /v1.0/healthz and every app its health route, and on stop tears down
every process group it started, apps first, infrastructure last.

Unless told not to, each run makes a fresh pair of Dapr API tokens per app (`AppTokens`): daprd
gets them as DAPR_API_TOKEN (required on its APIs) and APP_API_TOKEN (sent on its calls into the
app), the app the same two. They travel in the environment only, never on a command line.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import yaml

from sidecart import components as resources
from sidecart import infra, jetstream, observe, profile_infra, profiles, prometheus, runfile
from sidecart.errors import SidecartError
from sidecart.paths import dapr_bin_dir
from sidecart.procs import (
    ManagedProcess,
    free_port,
    http_ok,
    port_owner,
    python_bin_dir,
    wait_until,
)


@dataclass(frozen=True)
class AppPorts:
    app: int
    http: int
    grpc: int
    internal_grpc: int
    metrics: int


TOKEN_VARIABLES = ("DAPR_API_TOKEN", "APP_API_TOKEN")


@dataclass(frozen=True)
class AppTokens:
    """One app's pair of Dapr API tokens; the values stay out of reprs (and so out of logs)."""

    api: str = field(repr=False)
    """app -> its daprd: DAPR_API_TOKEN, the `dapr-api-token` header on the sidecar's APIs."""
    app: str = field(repr=False)
    """daprd -> its app: APP_API_TOKEN, the `dapr-api-token` header on calls into the app."""

    @classmethod
    def fresh(cls) -> AppTokens:
        return cls(api=secrets.token_urlsafe(32), app=secrets.token_urlsafe(32))

    def env(self) -> dict[str, str]:
        return {"DAPR_API_TOKEN": self.api, "APP_API_TOKEN": self.app}


def _without_tokens(env: dict[str, str]) -> dict[str, str]:
    """The launcher's own environment minus any token: tokens are the launcher's to give."""
    return {name: value for name, value in env.items() if name not in TOKEN_VARIABLES}


@dataclass
class StackOptions:
    run_file: Path
    log_dir: Path
    data_dir: Path
    only_apps: Iterable[str] | None = None
    free_ports: bool = False
    echo: IO[str] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Prometheus, the log store and shipping every process's lines to it (sidecart.observe).
    observability: bool = False
    health_timeout: float = 60.0
    # Infrastructure profile (sidecart.profiles), e.g. "kafka,postgres"; None: the run file as is.
    profile: str | None = None
    # Use brokers and databases already running at the components' addresses; start none.
    external_infra: bool = False
    # A fresh pair of Dapr API tokens per app and run; off: no token at all, in either direction.
    api_tokens: bool = True


@dataclass
class Stack:
    options: StackOptions
    apps: list[runfile.ResolvedApp] = field(default_factory=list)
    ports: dict[str, AppPorts] = field(default_factory=dict)
    tokens: dict[str, AppTokens] = field(default_factory=dict)
    infra_ports: dict[str, int] = field(default_factory=dict)
    processes: list[ManagedProcess] = field(default_factory=list)
    observability: observe.Observability | None = None

    # --- planning (no process started) ----------------------------------------------------

    def plan(self) -> None:
        """Read and check everything before a single process starts: no half-started stack."""
        _, apps = runfile.load(self.options.run_file)
        if self.options.only_apps is not None:
            wanted = set(self.options.only_apps)
            unknown = wanted - {a.app_id for a in apps}
            if unknown:
                raise SidecartError(f"{self.options.run_file}: no app {sorted(unknown)[0]!r}")
            apps = [a for a in apps if a.app_id in wanted]
        self._apply_profile(apps)
        self._refuse_given_tokens(apps)
        self.apps = apps
        daprd = dapr_bin_dir() / "daprd"
        if not daprd.is_file():
            raise SidecartError(f"daprd not found in {daprd.parent}: run `make bootstrap`")

        dirs = sorted({p for app in apps for p in app.resources_paths})
        found = resources.load_resources(dirs)
        configs = sorted({app.config_file for app in apps if app.config_file is not None})
        config = resources.check_config(configs[0]) if configs else {}
        for extra in configs[1:]:
            resources.check_config(extra)
        self._needs = infra.needs(found, config)
        self._components = found
        profiles.check_capabilities(found)
        self._streams = jetstream.load_streams(dirs)
        profile_infra.check_streams(found, self._streams)
        self._needs = profile_infra.needs_for_run(found, self._needs, self.options.external_infra)
        if self.options.observability:
            self._needs.update(observe.needs())
        self._resource_dirs = dirs
        self._config_files = configs

        for name, need in self._needs.items():
            self.infra_ports[name] = free_port() if self.options.free_ports else need.port
        for app in apps:
            self.ports[app.app_id] = self._ports_for(app)
            if self.options.api_tokens:
                self.tokens[app.app_id] = AppTokens.fresh()
        if not self.options.free_ports:
            self._check_ports_free()

    def _apply_profile(self, apps: list[runfile.ResolvedApp]) -> None:
        """Swap the run file's pub/sub and state folders for the profile's (sidecart.profiles)."""
        self.profile = profiles.parse(self.options.profile)
        refused = self.profile.not_runnable()
        if refused is not None:
            raise SidecartError(refused)
        if self.options.profile is not None:
            for app in apps:
                app.resources_paths = profiles.swap_resources_paths(
                    app.resources_paths, self.profile
                )

    def _refuse_given_tokens(self, apps: list[runfile.ResolvedApp]) -> None:
        """A token in the run file would be a committed secret, one in the overrides a pair
        that no longer matches daprd's: the launcher makes both, or none (api_tokens off)."""
        for where, env in [("extra env", self.options.extra_env)] + [
            (f"app {app.app_id}'s env", app.env) for app in apps
        ]:
            given = sorted(set(env) & set(TOKEN_VARIABLES))
            if given:
                raise SidecartError(
                    f"{self.options.run_file}: {where} sets {given[0]}: the launcher makes a "
                    "fresh pair of API tokens per app and run; remove it"
                )

    def _ports_for(self, app: runfile.ResolvedApp) -> AppPorts:
        def pick(fixed: int | None) -> int:
            return free_port() if self.options.free_ports or fixed is None else fixed

        if app.app_port is None:
            raise SidecartError(f"{self.options.run_file}: app {app.app_id} needs an appPort")
        return AppPorts(
            app=pick(app.app_port),
            http=pick(app.dapr_http_port),
            grpc=pick(app.dapr_grpc_port),
            internal_grpc=pick(app.dapr_internal_grpc_port),
            metrics=pick(app.metrics_port),
        )

    def _check_ports_free(self) -> None:
        wanted: list[tuple[int, str]] = [(p, f"{n}") for n, p in self.infra_ports.items()]
        for app_id, ports in self.ports.items():
            wanted += [
                (ports.app, f"app {app_id}"),
                (ports.http, f"{app_id} sidecar HTTP API"),
                (ports.grpc, f"{app_id} sidecar gRPC API"),
                (ports.internal_grpc, f"{app_id} sidecar internal gRPC"),
                (ports.metrics, f"{app_id} sidecar metrics"),
            ]
        seen: dict[int, str] = {}
        for port, what in wanted:
            if port in seen:
                raise SidecartError(f"port {port} is given to both {seen[port]} and {what}")
            seen[port] = what
            owner = port_owner(port)
            if owner is not None:
                raise SidecartError(
                    f"port {port} ({what}) is already in use by {owner}: stop it or change the port"
                )

    # --- materialised configuration ---------------------------------------------------------

    def _write_effective_resources(self) -> tuple[list[Path], dict[Path, Path]]:
        work = self.options.data_dir / "dapr"
        work.mkdir(parents=True, exist_ok=True)
        overrides: dict[tuple[str, str], str] = {}
        for ctype, (server, key) in infra.BY_COMPONENT.items():
            if server.name in self.infra_ports:
                overrides[(ctype, key)] = f"localhost:{self.infra_ports[server.name]}"
        for ctype, key in infra.LOCAL_FOLDERS.items():
            overrides[(ctype, key)] = str(infra.local_folder(self.options.data_dir, ctype))
        overrides.update(
            profile_infra.overrides(self._components, self.infra_ports, self.options.data_dir)
        )
        dirs = resources.materialize(self._resource_dirs, work / "resources", overrides)
        mapping = dict(zip(self._resource_dirs, dirs, strict=True))
        configs: dict[Path, Path] = {}
        for index, src in enumerate(self._config_files):
            doc = resources.check_config(src)
            if self.observability is not None:
                self.observability.dapr_config(doc)
            if "zipkin" in self.infra_ports and infra.zipkin_endpoint(doc):
                doc["spec"]["tracing"]["zipkin"]["endpointAddress"] = self.zipkin_spans_url
            if self.options.profile is not None:
                profiles.merge_name_resolution(doc, self.profile, work)
            if self.options.free_ports:
                # mDNS is machine-wide: two stacks (a test run beside `make run`) would answer
                # each other's invocations. A name-resolution table per stack keeps them apart.
                doc["spec"]["nameResolution"] = {
                    "component": "sqlite",
                    "version": "v1",
                    "configuration": {
                        "connectionString": str(work / "nameresolution.db"),
                        # All sidecars migrate the file at once; 2s (the default) is too short
                        # under load: a sidecar that gives up resolves no app at all.
                        "busyTimeout": "30s",
                    },
                }
            dest = work / f"config-{index}.yaml"
            dest.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
            configs[src] = dest
        return dirs, {**mapping, **configs}

    @property
    def zipkin_spans_url(self) -> str:
        return f"http://localhost:{self.infra_ports['zipkin']}/api/v2/spans"

    # --- start / stop -------------------------------------------------------------------------

    def start(self) -> None:
        if not self.apps:
            self.plan()
        self.options.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._prepare_observability()
            self._start_infra()
            profile_infra.check_reachable(self._components, self.infra_ports)
            profile_infra.provision(self._components, self._streams, self.infra_ports)
            _, mapping = self._write_effective_resources()
            for index, app in enumerate(self.apps):
                self._start_app(index, app, mapping)
            self._wait_apps()
        except BaseException:
            self.stop()
            raise

    def _prepare_observability(self) -> None:
        if not self.options.observability:
            return
        self.observability = observe.Observability(self.infra_ports)
        targets = [
            prometheus.Target(app.app_id, "app", self.ports[app.app_id].app)
            for app in self.apps
            if app.command
        ] + [
            prometheus.Target(app.app_id, "sidecar", self.ports[app.app_id].metrics)
            for app in self.apps
        ]
        self.observability.prepare(self.options.data_dir, targets)

    def _start_infra(self) -> None:
        for need in self._needs.values():
            need.port = self.infra_ports[need.server.name]
            proc = infra.process_for(
                need, self.options.data_dir, self.options.log_dir, self.options.echo
            )
            self.processes.append(proc)
            if self.observability is not None:
                self.observability.attach(proc)
            proc.start()
        for need in self._needs.values():
            proc = next(p for p in self.processes if p.name == need.server.name)
            try:
                wait_until(
                    f"{need.server.name} on 127.0.0.1:{need.port}",
                    need.server.ready(need.port),
                    need.server.startup_timeout,
                    watch=[proc],
                )
            except SidecartError as exc:
                raise SidecartError(f"{need.server.name} failed to start: {exc}") from exc

    def _start_app(self, index: int, app: runfile.ResolvedApp, mapping: dict[Path, Path]) -> None:
        ports = self.ports[app.app_id]
        daprd = [str(dapr_bin_dir() / "daprd"), *self.daprd_args(app, ports, mapping)]
        sidecar = ManagedProcess(
            name=f"{app.app_id}-dapr",
            argv=daprd,
            log_path=self.options.log_dir / f"{app.app_id}_daprd.log",
            env=self.daprd_env(app),
            echo=self.options.echo,
            colour=index,
        )
        env = {**_without_tokens(dict(os.environ)), **self.app_env(app, ports)}
        env["PATH"] = python_bin_dir() + os.pathsep + env.get("PATH", "")
        program = ManagedProcess(
            name=app.app_id,
            argv=app.command,
            log_path=self.options.log_dir / f"{app.app_id}_app.log",
            env=env,
            cwd=app.app_dir,
            echo=self.options.echo,
            colour=index,
        )
        self.processes += [program, sidecar]
        if self.observability is not None:
            self.observability.attach(program)
            self.observability.attach(sidecar)
        if app.command:
            program.start()
        sidecar.start()

    def daprd_args(
        self, app: runfile.ResolvedApp, ports: AppPorts, mapping: dict[Path, Path]
    ) -> list[str]:
        """The flags the Dapr CLI passes to daprd for this app (plus JSON logs, always)."""
        args = [
            "--app-id",
            app.app_id,
            "--app-port",
            str(ports.app),
            "--app-protocol",
            app.app_protocol,
            "--dapr-http-port",
            str(ports.http),
            "--dapr-grpc-port",
            str(ports.grpc),
            "--dapr-internal-grpc-port",
            str(ports.internal_grpc),
            "--metrics-port",
            str(ports.metrics),
            "--log-as-json",
            # Not run-file fields: Sidecart binds every listener of the sidecar to loopback.
            "--metrics-listen-address",
            "127.0.0.1",
            "--dapr-internal-grpc-listen-address",
            "127.0.0.1",
        ]
        for path in app.resources_paths:
            args += ["--resources-path", str(mapping.get(path, path))]
        if app.config_file is not None:
            args += ["--config", str(mapping.get(app.config_file, app.config_file))]
        if app.api_listen_addresses:
            args += ["--dapr-listen-addresses", app.api_listen_addresses]
        if app.placement_host_address:
            args += ["--placement-host-address", app.placement_host_address]
        if app.scheduler_host_address:
            args += ["--scheduler-host-address", app.scheduler_host_address]
        if app.log_level:
            args += ["--log-level", app.log_level]
        if app.max_body_size:
            args += ["--max-body-size", app.max_body_size]
        if app.enable_app_health_check:
            args += ["--enable-app-health-check"]
            if app.app_health_check_path:
                args += ["--app-health-check-path", app.app_health_check_path]
        return args

    def daprd_env(self, app: runfile.ResolvedApp) -> dict[str, str]:
        """daprd's environment: the launcher's, with the app's tokens (when on) and no other."""
        env = _without_tokens(dict(os.environ))
        if app.app_id in self.tokens:
            env.update(self.tokens[app.app_id].env())
        return env

    def app_env(self, app: runfile.ResolvedApp, ports: AppPorts) -> dict[str, str]:
        """The variables the Dapr CLI sets for an app, then the run file's env, then overrides,
        then the app's API tokens (the same pair as its daprd's, so nothing can unpair them)."""
        env = {
            "APP_ID": app.app_id,
            "APP_PORT": str(ports.app),
            "APP_PROTOCOL": app.app_protocol,
            "DAPR_HTTP_PORT": str(ports.http),
            "DAPR_GRPC_PORT": str(ports.grpc),
            "DAPR_METRICS_PORT": str(ports.metrics),
            **app.env,
        }
        if "zipkin" in self.infra_ports and "OTEL_EXPORTER_ZIPKIN_ENDPOINT" in env:
            env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] = self.zipkin_spans_url
        if self.observability is not None:
            env.update(self.observability.app_env())
        env.update(self.options.extra_env)
        if app.app_id in self.tokens:
            env.update(self.tokens[app.app_id].env())
        return env

    def _wait_apps(self) -> None:
        for app in self.apps:
            ports = self.ports[app.app_id]
            watch = [p for p in self.processes if p.name in {app.app_id, f"{app.app_id}-dapr"}]
            if app.command and app.app_health_check_path:
                wait_until(
                    f"app {app.app_id} at {app.app_health_check_path}",
                    http_ok(f"http://127.0.0.1:{ports.app}{app.app_health_check_path}"),
                    self.options.health_timeout,
                    watch=watch,
                )
            wait_until(
                f"the {app.app_id} sidecar's /v1.0/healthz",
                http_ok(f"http://127.0.0.1:{ports.http}/v1.0/healthz"),
                self.options.health_timeout,
                watch=watch,
            )

    def stop(self) -> None:
        """Stop apps, then sidecars, then infrastructure; each by its process group."""
        order = sorted(
            self.processes,
            key=lambda p: 0
            if not p.name.endswith("-dapr") and p.name not in self.infra_ports
            else (1 if p.name.endswith("-dapr") else 2),
        )
        order.sort(key=lambda p: p.name == observe.LOG_STORE)  # stable: the log store goes last
        for proc in order:
            if self.observability is not None and proc.name == observe.LOG_STORE:
                self.observability.flush()  # ship everyone's last lines while the store is up
                proc.on_line = None
            proc.stop()
        if self.observability is not None:
            self.observability.close()

    def failed_process(self) -> ManagedProcess | None:
        exited = [p for p in self.processes if p.popen is not None and p.exit_code() is not None]
        if self.observability is not None:  # a log store or Prometheus down stops nothing
            exited = self.observability.essential(exited)
        return exited[0] if exited else None

    def urls(self) -> dict[str, str]:
        out = {"shop": f"http://127.0.0.1:{self.ports['web'].app}/"} if "web" in self.ports else {}
        out |= {f"{app_id} (app)": f"http://127.0.0.1:{p.app}" for app_id, p in self.ports.items()}
        if "zipkin" in self.infra_ports:
            out["zipkin"] = f"http://127.0.0.1:{self.infra_ports['zipkin']}/zipkin/"
        if self.observability is not None:
            out.update(self.observability.urls())
        return out


def temp_data_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="sidecart-"))


def print_urls(stack: Stack, out: IO[str] = sys.stderr) -> None:
    for name, url in stack.urls().items():
        out.write(f"  {name:<22} {url}\n")
    out.flush()
