"""Versions of everything the bootstrap installs; one place to bump them."""

from typing import Final

DAPR_RUNTIME_VERSION: Final = "1.18.1"
ZIPKIN_VERSION: Final = "3.6.1"
MAVEN_DEPENDENCY_PLUGIN: Final = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
