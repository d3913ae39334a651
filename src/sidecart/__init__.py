"""Sidecart: a platform for Python microservices on Dapr sidecars."""

__version__ = "0.1.0"
