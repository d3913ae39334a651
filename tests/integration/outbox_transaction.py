"""One transaction on `orderstore`, in a process of its own: `python -m` this module.

The Dapr SDK's client waits for a sidecar's health at the HTTP port of its global settings
(read from `DAPR_HTTP_PORT` when the SDK is imported), whatever address it is given, and sends
the sidecar's token from `DAPR_API_TOKEN` the same way. A test process talks to sidecars of many
stacks, so it leaves those globals alone: the transaction runs here, with both set for this
process only (`run_transaction`).

Protocol: the request (JSON) on stdin, the outcome (JSON) on stdout, `{"error": null}` or
`{"error": "<exception class>: <message>"}`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from dapr.aio.clients import DaprClient
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType

from services.ordering.dapr_adapters import execute_outbox_transaction


class TransactionFailedError(Exception):
    """The transaction failed in its process; the message starts with the exception's class."""


def run_transaction(
    http_port: int,
    grpc_port: int,
    store: str,
    operations: Sequence[TransactionalStateOperation],
    guarded: bool,
    api_token: str | None,
) -> None:
    """Run the transaction through the sidecar at these ports, as ordering sends it (`guarded`)
    or raw, with that sidecar's `api_token`; raise `TransactionFailedError` when it fails."""
    request = {
        "address": f"127.0.0.1:{grpc_port}",
        "store": store,
        "guarded": guarded,
        "operations": [_encode(op) for op in operations],
    }
    env = {**os.environ, "DAPR_HTTP_PORT": str(http_port)}
    env.pop("DAPR_API_TOKEN", None)
    if api_token is not None:
        env["DAPR_API_TOKEN"] = api_token
    done = subprocess.run(
        [sys.executable, "-m", __name__],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the transaction process failed: {done.stderr}")
    error = json.loads(done.stdout.splitlines()[-1])["error"]
    if error is not None:
        raise TransactionFailedError(error)


def _encode(op: TransactionalStateOperation) -> dict[str, Any]:
    data = op.data.encode() if isinstance(op.data, str) else op.data
    return {
        "key": op.key,
        "data": None if data is None else base64.b64encode(data).decode(),
        "etag": op.etag,
        "operation_type": op.operation_type.value,
        "metadata": op.metadata,
    }


def _decode(raw: dict[str, Any]) -> TransactionalStateOperation:
    data = raw["data"]
    return TransactionalStateOperation(
        key=raw["key"],
        data=None if data is None else base64.b64decode(data),
        etag=raw["etag"],
        operation_type=TransactionOperationType(raw["operation_type"]),
        metadata=raw["metadata"],
    )


async def _transact(request: dict[str, Any]) -> str | None:
    operations = [_decode(op) for op in request["operations"]]
    client = DaprClient(address=request["address"])
    try:
        if request["guarded"]:
            await execute_outbox_transaction(client, request["store"], operations)
        else:
            await client.execute_state_transaction(request["store"], operations)
    except Exception as exc:  # reported to the test process, which judges it
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.close()  # type: ignore[no-untyped-call]
    return None


if __name__ == "__main__":
    outcome = asyncio.run(_transact(json.loads(sys.stdin.read())))
    sys.stdout.write(json.dumps({"error": outcome}) + "\n")
