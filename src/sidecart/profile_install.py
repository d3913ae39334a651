"""Bootstrap steps for the infrastructure of a profile: exactly what it needs, on first use.

`sidecart bootstrap --profile kafka,postgres` (and `make bootstrap PROFILE=...`) runs the
default steps (daprd, Zipkin, ...) without Redis when the profile does not use it, then the
profile's own: Kafka's jars from Maven Central, or a Debian package. Each step checks first, so
a warm run only reports what is present and how long the check took.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sidecart import bootstrap as boot
from sidecart.errors import SidecartError
from sidecart.paths import cache_dir
from sidecart.profiles import Profile
from sidecart.versions import (
    KAFKA_SCALA,
    KAFKA_VERSION,
    LOG4J_VERSION,
    MAVEN_DEPENDENCY_PLUGIN,
    SLF4J_VERSION,
)

# --- Kafka: jars from Maven Central, no tarball -------------------------------------------------


def kafka_home() -> Path:
    return cache_dir() / "kafka"


def kafka_libs() -> Path:
    return kafka_home() / "libs"


def _kafka_marker() -> Path:
    return kafka_libs() / f".complete-{KAFKA_VERSION}-log4j-{LOG4J_VERSION}"


def kafka_present() -> bool:
    return boot.java_present() and _kafka_marker().is_file()


_POM = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by sidecart's bootstrap: only resolves Kafka's runtime jars into libs/. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sidecart</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
      <!-- Kafka resolves slf4j-api 1.7, which ignores the log4j 2 binding: pin 2.x. -->
      <dependency>
        <groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
        <version>{slf4j}</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""


def install_kafka() -> None:
    if not boot.java_present():
        raise SidecartError(
            "java not found: Kafka needs a Java 17 runtime "
            "(apt-get install openjdk-17-jre-headless)"
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SidecartError(
            "mvn not found: it fetches Kafka's jars from Maven Central (apt-get install maven)"
        )
    home = kafka_home()
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(
        _POM.replace("{slf4j}", SLF4J_VERSION)
        .replace("{scala}", KAFKA_SCALA)
        .replace("{kafka}", KAFKA_VERSION)
        .replace("{log4j}", LOG4J_VERSION),
        encoding="utf-8",
    )
    partial = home / "libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    boot._run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        f"fetching Kafka {KAFKA_VERSION} jars from Maven Central",
    )
    if not (partial / f"kafka_{KAFKA_SCALA}-{KAFKA_VERSION}.jar").is_file():
        raise SidecartError(f"Maven resolved no kafka_{KAFKA_SCALA}-{KAFKA_VERSION}.jar")
    shutil.rmtree(kafka_libs(), ignore_errors=True)
    partial.replace(kafka_libs())
    _kafka_marker().touch()


# --- Debian packages ----------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<major>/bin that has a postgres server."""
    majors = [
        p.parent.parent
        for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")
        if p.parent.parent.name.isdigit()
    ]
    newest = max(majors, key=lambda p: int(p.name), default=None)
    return None if newest is None else newest / "bin"


def rabbitmq_bin_dir() -> Path:
    return Path("/usr/lib/rabbitmq/bin")


def rabbitmq_present() -> bool:
    return (rabbitmq_bin_dir() / "rabbitmq-server").is_file() and shutil.which("epmd") is not None


def _apt_step(binary: str, package: str) -> boot.Step:
    return boot.Step(
        f"{binary} (apt {package})",
        lambda: shutil.which(binary) is not None,
        lambda: boot.apt_install(package),
    )


def profile_steps(profile: Profile) -> list[boot.Step]:
    """The install steps of the servers the profile runs (none for SQLite: daprd embeds it)."""
    steps: list[boot.Step] = []
    if profile.pubsub == "kafka":
        steps.append(
            boot.Step(f"kafka {KAFKA_VERSION} jars in {kafka_libs()}", kafka_present, install_kafka)
        )
    if profile.pubsub == "rabbitmq":
        steps.append(
            boot.Step(
                "rabbitmq-server (apt rabbitmq-server)",
                rabbitmq_present,
                lambda: boot.apt_install("rabbitmq-server"),
            )
        )
    if profile.pubsub == "jetstream":
        steps.append(_apt_step("nats-server", "nats-server"))
    if profile.state == "postgres":
        steps.append(
            boot.Step(
                "postgres (apt postgresql)",
                lambda: postgres_bin_dir() is not None,
                lambda: boot.apt_install("postgresql"),
            )
        )
    if profile.state == "etcd":
        steps.append(_apt_step("etcd", "etcd-server"))
    return steps


def uses_redis(profile: Profile) -> bool:
    return profile.pubsub == "redis" or profile.state == "redis"


def steps_for(profile: Profile) -> list[boot.Step]:
    """The default steps (Redis only when the profile uses it), then the profile's own."""
    base = [
        s
        for s in boot.default_steps()
        if uses_redis(profile) or not s.name.startswith("redis-server")
    ]
    return [*base, *profile_steps(profile)]


def bootstrap(profile: Profile) -> None:
    if not profile.is_default:
        boot.say(f"profile {profile.label}")
    boot.run_steps(steps_for(profile))
