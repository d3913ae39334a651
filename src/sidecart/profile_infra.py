"""The servers of the non-default profiles, run as the project's own processes on 127.0.0.1.

Like `sidecart.infra` (Redis, Zipkin), each server is read off the component YAML: a
`pubsub.kafka` component whose `brokers` is localhost:19092 means a Kafka broker there. Each
runs in its own process group with its data in the run's data folder, never as a system
service: Kafka 4 in KRaft mode (one combined broker+controller) from the jars the bootstrap
fetched, RabbitMQ with its own node name, ports and epmd, NATS with JetStream, PostgreSQL
(initdb on first start; as the `postgres` user when run by root, which postgres refuses to
run as) and etcd. SQLite needs no server: its database file is placed in the data folder.

`check_reachable` turns "the broker is down" into one line naming the component and the
address, before any sidecar would fail on it with a page of logs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sidecart import infra, jetstream
from sidecart.components import Component
from sidecart.errors import SidecartError
from sidecart.procs import free_port, http_ok, port_owner, tcp_open
from sidecart.profile_install import kafka_libs, postgres_bin_dir, rabbitmq_bin_dir

LOOPBACK = {"localhost", "127.0.0.1"}

# --- Kafka ----------------------------------------------------------------------------------


def _kafka_cluster_id() -> str:
    while True:  # as Kafka's Uuid.randomUuid: base64url, never starting with "-"
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not value.startswith("-"):
            return value


_KAFKA_LOG4J = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.statechange.name = state.change.logger
logger.statechange.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = warn
"""


def _sticky_port(record: Path) -> int:
    """The port used last time (kept in `record`) while it is free, else a new free one."""
    with contextlib.suppress(OSError, ValueError):
        port = int(record.read_text(encoding="utf-8"))
        if port_owner(port) is None:
            return port
    port = free_port()
    record.write_text(str(port), encoding="utf-8")
    return port


def _kafka_argv(port: int, data: Path) -> list[str]:
    java = shutil.which("java")
    if java is None or not any(kafka_libs().glob("kafka_*.jar")):
        raise SidecartError("Kafka is not installed: run `make bootstrap PROFILE=kafka`")
    controller = _sticky_port(data / "controller.port")
    logs = data / "kraft-logs"
    props = data / "server.properties"
    props.write_text(
        "\n".join(
            [
                "# Written by sidecart: one combined broker+controller in KRaft mode on loopback.",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={logs}",
                "num.partitions=1",
                "auto.create.topics.enable=true",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        ),
        encoding="utf-8",
    )
    log4j = data / "log4j2.properties"
    log4j.write_text(_KAFKA_LOG4J, encoding="utf-8")
    classpath = f"{kafka_libs()}/*"
    jvm = [java, "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true"]
    jvm += [f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
    if not (logs / "meta.properties").is_file():
        result = subprocess.run(
            [
                *jvm,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                _kafka_cluster_id(),
                "-c",
                str(props),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise SidecartError(f"kafka: formatting {logs} failed: {' | '.join(tail)}")
    return [*jvm, "kafka.Kafka", str(props)]


# --- RabbitMQ -------------------------------------------------------------------------------


def rabbitmq_env(data: Path) -> dict[str, str]:
    """The environment that reaches the node started in `data` (for rabbitmqctl too)."""
    saved = data / "node-env.json"
    try:
        loaded: dict[str, str] = json.loads(saved.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SidecartError(f"{saved}: no RabbitMQ node was started in {data}") from exc
    return loaded


def rabbitmqctl(data: Path, *args: str, timeout: float = 60) -> str:
    """Run rabbitmqctl against the node started in `data`; its stdout."""
    env = {**os.environ, **rabbitmq_env(data)}
    env["RABBITMQ_CTL_ERL_ARGS"] = "-start_epmd false"
    result = subprocess.run(
        [str(rabbitmq_bin_dir() / "rabbitmqctl"), "-q", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise SidecartError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip()[-300:]}")
    return result.stdout


def _rabbitmq_argv(port: int, data: Path) -> list[str]:
    server = rabbitmq_bin_dir() / "rabbitmq-server"
    epmd = shutil.which("epmd")
    if not server.is_file() or epmd is None:
        raise SidecartError("RabbitMQ is not installed: run `make bootstrap PROFILE=rabbitmq`")
    epmd_port = free_port()
    env = {
        "HOME": str(data),  # the Erlang cookie lives here, shared with rabbitmqctl
        "RABBITMQ_NODENAME": f"sidecart-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(data / "mnesia"),
        "RABBITMQ_LOG_BASE": str(data / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_PID_FILE": str(data / "rabbitmq.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(data / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(data / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(data / "advanced.config"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd_port),
    }
    (data / "enabled_plugins").write_text("[].\n", encoding="utf-8")
    (data / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users.guest = true\n",
        encoding="utf-8",
    )
    (data / "node-env.json").write_text(json.dumps(env, indent=2), encoding="utf-8")
    # Our own epmd, in this process group (not a daemon that would outlive the run); the node
    # is told not to start one.
    script = (
        f'"{epmd}" -address 127.0.0.1 -port {epmd_port} & '
        f'until "{epmd}" -port {epmd_port} -names >/dev/null 2>&1; do sleep 0.1; done; '
        f'exec "{server}"'
    )
    settings = [f"{k}={v}" for k, v in env.items()]
    # No epmd of its own, and Erlang distribution on loopback only (it binds every interface
    # by default).
    settings.append(
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="
        "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"
    )
    return ["env", *settings, "sh", "-c", script]


# --- NATS JetStream -------------------------------------------------------------------------
# The streams themselves are declared beside the component (sidecart.jetstream) and applied
# by `provision` once the server answers.


def _nats_argv(port: int, data: Path) -> list[str]:
    binary = shutil.which("nats-server")
    if binary is None:
        raise SidecartError("nats-server is not installed: run `make bootstrap PROFILE=jetstream`")
    return [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(data), "-n", "sidecart"]


def _jetstream_ready(port: int) -> Callable[[], bool]:
    return lambda: jetstream.jetstream_enabled(port)


# --- PostgreSQL -----------------------------------------------------------------------------

PG_USER = "postgres"


def _as_postgres() -> list[str]:
    """root cannot run postgres: drop to the `postgres` user the Debian package creates."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SidecartError("setpriv (util-linux) not found: needed to run postgres as non-root")
    return [setpriv, f"--reuid={PG_USER}", f"--regid={PG_USER}", "--init-groups", "--"]


def _reachable_by(user: pwd.struct_passwd, path: Path) -> bool:
    groups = {user.pw_gid}
    for folder in [path, *path.parents]:
        st = folder.stat()
        if st.st_uid == user.pw_uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            return False
    return True


def _postgres_data(data: Path) -> Path:
    """The cluster folder: in `data`, or, when postgres cannot reach that, under /tmp."""
    if os.geteuid() != 0:
        return data / "pgdata"
    user = pwd.getpwnam(PG_USER)
    if _reachable_by(user, data):
        target = data / "pgdata"
    else:
        _sweep_orphan_clusters()
        digest = hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:12]
        target = Path(tempfile.gettempdir()) / f"sidecart-postgres-{digest}" / "pgdata"
        target.parent.mkdir(mode=0o700, exist_ok=True)
        (target.parent / "owner").write_text(str(data.resolve()), encoding="utf-8")
        os.chown(target.parent, user.pw_uid, user.pw_gid)
        link = data / "pgdata"
        if not link.is_symlink():
            link.symlink_to(target)
    target.mkdir(mode=0o700, exist_ok=True)
    os.chown(target, user.pw_uid, user.pw_gid)
    return target


def _sweep_orphan_clusters() -> None:
    """Remove /tmp clusters whose run folder is gone (pytest rotates its temporary folders)."""
    for owner in Path(tempfile.gettempdir()).glob("sidecart-postgres-*/owner"):
        with contextlib.suppress(OSError):
            if not Path(owner.read_text(encoding="utf-8")).exists():
                shutil.rmtree(owner.parent, ignore_errors=True)


_INITDB_FLAGS = ["-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-instructions"]


def _postgres_argv(port: int, data: Path) -> list[str]:
    bindir = postgres_bin_dir()
    if bindir is None:
        raise SidecartError("postgres is not installed: run `make bootstrap PROFILE=postgres`")
    pgdata = _postgres_data(data)
    drop = _as_postgres()
    if not (pgdata / "PG_VERSION").is_file():
        result = subprocess.run(
            [*drop, str(bindir / "initdb"), "-D", str(pgdata), *_INITDB_FLAGS],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tempfile.gettempdir(),
        )
        if result.returncode != 0:
            raise SidecartError(f"postgres: initdb {pgdata} failed: {result.stderr.strip()[-300:]}")
    return [
        *drop,
        str(bindir / "postgres"),
        "-D",
        str(pgdata),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-k",
        "",  # no unix socket: TCP on loopback only
        "-c",
        "logging_collector=off",
        "-c",
        "fsync=off",  # a development and test store: speed over crash safety
        "-c",
        "shared_buffers=32MB",
    ]


def _postgres_ready(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        bindir = postgres_bin_dir()
        if bindir is None:
            return False
        result = subprocess.run(
            [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0

    return probe


# --- etcd -----------------------------------------------------------------------------------


def _etcd_argv(port: int, data: Path) -> list[str]:
    binary = shutil.which("etcd")
    if binary is None:
        raise SidecartError("etcd is not installed: run `make bootstrap PROFILE=etcd`")
    peer = f"http://127.0.0.1:{free_port()}"
    client = f"http://127.0.0.1:{port}"
    return [
        binary,
        "--name",
        "sidecart",
        "--data-dir",
        str(data / "member-data"),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        f"sidecart={peer}",
        "--logger",
        "zap",
        "--log-outputs",
        "stdout",
    ]


KAFKA = infra.Server("kafka", _kafka_argv, tcp_open, startup_timeout=90)
RABBITMQ = infra.Server("rabbitmq", _rabbitmq_argv, tcp_open, startup_timeout=90)
NATS = infra.Server("nats", _nats_argv, _jetstream_ready, startup_timeout=30)
POSTGRES = infra.Server("postgres", _postgres_argv, _postgres_ready, startup_timeout=60)
ETCD = infra.Server(
    "etcd", _etcd_argv, lambda port: http_ok(f"http://127.0.0.1:{port}/health"), startup_timeout=30
)

# --- where each component type names its server ---------------------------------------------


@dataclass(frozen=True)
class Address:
    """How a metadata value names a host and port, and how to write another port into it."""

    read: Callable[[str], tuple[str, int]]
    write: Callable[[str, int], str]


def _read_host_port(value: str) -> tuple[str, int]:
    first = value.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{value!r} is not host:port")
    return host, int(port)


def _write_host_port(value: str, port: int) -> str:
    host, _ = _read_host_port(value)
    return f"{host}:{port}"


def _read_url(value: str) -> tuple[str, int]:
    parts = urlsplit(value)
    if not parts.hostname or parts.port is None:
        raise ValueError(f"{value!r} is not a URL with a host and a port")
    return parts.hostname, parts.port


def _write_url(value: str, port: int) -> str:
    parts = urlsplit(value)
    userinfo, _, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo + '@' if userinfo else ''}{parts.hostname}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


_LIBPQ_HOST = re.compile(r"(?:^|\s)host=(\S+)")
_LIBPQ_PORT = re.compile(r"(?:^|\s)port=(\d+)")


def _read_libpq(value: str) -> tuple[str, int]:
    if "://" in value:
        return _read_url(value)
    host, port = _LIBPQ_HOST.search(value), _LIBPQ_PORT.search(value)
    if host is None or port is None:
        raise ValueError(f"{value!r} names no host= and port=")
    return host.group(1), int(port.group(1))


def _write_libpq(value: str, port: int) -> str:
    if "://" in value:
        return _write_url(value, port)
    return _LIBPQ_PORT.sub(lambda m: m.group(0).replace(m.group(1), str(port)), value)


HOST_PORT = Address(_read_host_port, _write_host_port)
URL = Address(_read_url, _write_url)
LIBPQ = Address(_read_libpq, _write_libpq)

# component type -> (server, metadata field, address format)
ENDPOINTS: dict[str, tuple[infra.Server, str, Address]] = {
    "pubsub.kafka": (KAFKA, "brokers", HOST_PORT),
    "pubsub.rabbitmq": (RABBITMQ, "connectionString", URL),
    "pubsub.jetstream": (NATS, "natsURL", URL),
    "state.postgresql": (POSTGRES, "connectionString", LIBPQ),
    "state.etcd": (ETCD, "endpoints", HOST_PORT),
}
# SQLite (state and name resolution) is a file, placed in the run's data folder.
SQLITE_FILES: dict[str, str] = {"state.sqlite": "connectionString"}


def endpoint_of(component: Component) -> tuple[str, str, int] | None:
    """(server name, host, port) a component connects to, when Sidecart knows its type."""
    if component.type in ENDPOINTS:
        server, key, address = ENDPOINTS[component.type]
    elif component.type in infra.BY_COMPONENT:
        server, key = infra.BY_COMPONENT[component.type]
        address = HOST_PORT
    else:
        return None
    value = component.metadata.get(key)
    if value is None:
        raise SidecartError(f"{component.path}: component {component.name!r} has no {key}")
    try:
        host, port = address.read(value)
    except ValueError as exc:
        raise SidecartError(
            f"{component.path}: component {component.name!r}: {key}: {exc}"
        ) from exc
    return server.name, host, port


def needs(components: Sequence[Component]) -> dict[str, infra.Need]:
    """The profile servers to start, keyed by name, each on the port the YAML names."""
    found: dict[str, infra.Need] = {}
    for component in components:
        entry = ENDPOINTS.get(component.type)
        endpoint = endpoint_of(component)
        if entry is None or endpoint is None:
            continue
        server = entry[0]
        _, host, port = endpoint
        if host not in LOOPBACK:
            raise SidecartError(
                f"{component.path}: component {component.name!r} points at {host}:{port}, "
                "not a local server Sidecart can start (use --external-infra for your own)"
            )
        need = found.setdefault(server.name, infra.Need(server, port, []))
        if need.port != port:
            raise SidecartError(
                f"{component.path}: {server.name} on port {port}, "
                f"but another component wants {need.port}"
            )
        need.wanted_by.append(component.name)
    return found


def overrides(
    components: Iterable[Component], infra_ports: Mapping[str, int], data_dir: Path
) -> dict[tuple[str, str], str]:
    """Metadata values to rewrite in the copy daprd reads: started ports, SQLite file paths."""
    out: dict[tuple[str, str], str] = {}
    for component in components:
        new: str | None = None
        if component.type in ENDPOINTS:
            server, key, address = ENDPOINTS[component.type]
            value = component.metadata.get(key)
            if server.name in infra_ports and value is not None:
                new = address.write(value, infra_ports[server.name])
        elif component.type in SQLITE_FILES:
            key = SQLITE_FILES[component.type]
            new = _sqlite_path(component.metadata.get(key, ""), data_dir)
        if new is None:
            continue
        if out.get((component.type, key), new) != new:
            raise SidecartError(
                f"{component.path}: every {component.type} component must name the same {key}"
            )
        out[(component.type, key)] = new
    return out


def _sqlite_path(value: str, data_dir: Path) -> str | None:
    """A relative database file goes into the data folder; `:memory:` and absolute paths stay."""
    path = value.removeprefix("file:").split("?")[0]
    if not path or path.startswith(":memory:") or Path(path).is_absolute():
        return None
    folder = data_dir / "sqlite"
    folder.mkdir(parents=True, exist_ok=True)
    query = value.partition("?")[2]
    return str(folder / path) + (f"?{query}" if query else "")


def check_reachable(
    components: Iterable[Component], infra_ports: Mapping[str, int], timeout: float = 2.0
) -> None:
    """One clear line when a component's broker or database does not answer at its address."""
    for component in components:
        endpoint = endpoint_of(component)
        if endpoint is None:
            continue
        server, host, port = endpoint
        port = infra_ports.get(server, port)
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SidecartError(
                f"component {component.name!r} ({component.type}, {component.path.name}): "
                f"nothing answers at {host}:{port} ({reason}): is the {server} server down?"
            ) from exc


def needs_for_run(
    components: Sequence[Component], base: Mapping[str, infra.Need], external: bool
) -> dict[str, infra.Need]:
    """All servers to start: `base` (Redis, Zipkin, ...) plus the profile's; with `external`,
    none that a component connects to (they are expected to be running already)."""
    if not external:
        return {**base, **needs(components)}
    theirs = {e[0] for e in map(endpoint_of, components) if e is not None}
    return {name: need for name, need in base.items() if name not in theirs}


def check_streams(components: Iterable[Component], streams: Sequence[jetstream.Stream]) -> None:
    """A JetStream component with no stream declared beside it would fail at the first publish."""
    for component in components:
        if component.type == "pubsub.jetstream" and not streams:
            raise SidecartError(
                f"{component.path}: component {component.name!r} ({component.type}) needs "
                f"JetStream streams: declare them as {jetstream.API_VERSION} {jetstream.KIND} "
                "resources in the same folder (see components/pubsub/jetstream/streams.yaml)"
            )


def provision(
    components: Iterable[Component],
    streams: Sequence[jetstream.Stream],
    infra_ports: Mapping[str, int],
) -> None:
    """Apply the declared JetStream streams to every NATS server a component uses.

    A server Sidecart started (its name is in `infra_ports`) is on loopback and its data folder
    is Sidecart's, so streams left there by an earlier layout are pruned; your own server (with
    --external-infra) is reached at the component's address and never pruned.
    """
    done: set[tuple[str, int]] = set()
    for component in components:
        endpoint = endpoint_of(component) if component.type == "pubsub.jetstream" else None
        if endpoint is None:
            continue
        server, host, port = endpoint
        started = server in infra_ports
        address = ("127.0.0.1", infra_ports[server]) if started else (host, port)
        if address not in done:
            jetstream.apply_streams(address[1], streams, host=address[0], prune=started)
            done.add(address)
