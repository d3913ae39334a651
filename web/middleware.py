"""Pure ASGI middleware (streaming-safe, so the order page's event stream passes untouched).

* `BodyLimit`: a request body larger than the cap is answered 413 before any route parses it.
* `ShopperSession`: reads the signed shopper cookie; sets one when a route made a new id.
* `SecurityHeaders`: a strict Content-Security-Policy (no inline script or style) and friends.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.security import SAFE_METHODS, SHOPPER_COOKIE, SHOPPER_SECONDS, Keys, Shopper

ErrorPage = Callable[[Request, int, str], Response]

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, error_page: ErrorPage) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.error_page = error_page

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int) -> None:
        message = (
            f"The request body is larger than {self.max_bytes // 1024} KiB."
            if status == 413
            else "The Content-Length header is not a number."
        )
        await self.error_page(Request(scope, receive), status, message)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await self._refuse(scope, receive, send, 400)
            elif int(length) > self.max_bytes:
                await self._refuse(scope, receive, send, 413)
            else:  # the server holds the client to its Content-Length
                await self.app(scope, receive, send)
            return
        # No length given (chunked): read up to the cap, then hand the body on.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, 413)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _set_cookie_header(name: str, value: str, *, max_age: int, secure: bool) -> str:
    response = Response()
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax"
    )
    return response.headers["set-cookie"]


class ShopperSession:
    def __init__(self, app: ASGIApp, keys: Keys, secure: bool) -> None:
        self.app = app
        self.keys = keys
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
        shopper = Shopper(self.keys.shopper_from(cookies.get(SHOPPER_COOKIE)))
        scope.setdefault("state", {})["shopper"] = shopper

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and shopper.new_id is not None:
                MutableHeaders(scope=message).append(
                    "set-cookie",
                    _set_cookie_header(
                        SHOPPER_COOKIE,
                        self.keys.shopper_cookie(shopper.new_id),
                        max_age=SHOPPER_SECONDS,
                        secure=self.secure,
                    ),
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
