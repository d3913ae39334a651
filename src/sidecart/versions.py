"""Versions of everything the bootstrap installs; one place to bump them."""

from typing import Final

DAPR_RUNTIME_VERSION: Final = "1.18.1"
ZIPKIN_VERSION: Final = "3.6.1"
MAVEN_DEPENDENCY_PLUGIN: Final = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# Infrastructure profiles (docs/profiles.md): Kafka from Maven Central, the rest from apt.
KAFKA_VERSION: Final = "4.4.0"
KAFKA_SCALA: Final = "2.13"
LOG4J_VERSION: Final = "2.26.1"
SLF4J_VERSION: Final = "2.0.17"
VICTORIA_LOGS_VERSION: Final = "v1.52.1"
# Renders k8s/ (base and profile overlays) in the tests; built from the Go module proxy.
KUSTOMIZE_VERSION: Final = "v5.8.1"
