"""Screenshots of the shop's pages from headless Chromium, into docs/screenshots/.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts the whole shop on free ports (the test harness, so it never clashes with `make run`),
fills a cart and places an order as a shopper would, then photographs the pages. Chromium is
driven over its DevTools pipe rather than with `--screenshot=<file>`: the cart and order pages
belong to one shopper, and the pipe is how the shopper's cookie reaches the browser.
Installs Debian's `chromium` with apt-get when it is missing.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from sidecart.testing import running_stack  # noqa: E402
from web.passwords import hash_password  # noqa: E402

log = logging.getLogger("screenshots")
RUN_FILE = ROOT / "dapr" / "dapr.yaml"
APPS = ("web", "catalog", "cart", "ordering", "payment", "notification")
WIDTH, HEIGHT = 1280, 900
MAX_HEIGHT = 2400
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
    "--remote-debugging-pipe",
)


def chromium() -> str:
    """The Chromium binary, installed from Debian's archive the first time (idempotent)."""
    found = shutil.which("chromium")
    if found is None:
        log.info("chromium is missing: installing it with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env)
        found = shutil.which("chromium")
    if found is None:
        raise SystemExit("chromium is not installed and apt-get could not install it")
    return found


@dataclass
class Cookie:
    name: str
    value: str
    path: str = "/"


class DevTools:
    """Chromium over --remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4."""

    def __init__(self, commands: BinaryIO, answers: BinaryIO, log_path: Path) -> None:
        self._commands = commands
        self._answers = answers
        self._log_path = log_path
        self._buffer = b""
        self._next_id = 0

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._answers.fileno(), 1 << 16)
            if not chunk:
                lines = self._log_path.read_text(errors="replace").splitlines()
                said = "\n".join(line for line in lines if "dbus" not in line)[-2000:]
                raise RuntimeError(f"chromium closed its DevTools pipe; it said:\n{said}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        request: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            request["sessionId"] = session
        self._commands.write(json.dumps(request).encode() + b"\0")
        self._commands.flush()
        while True:
            message = self._read()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def wait_for(self, event: str, session: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read()
            if message.get("method") == event and message.get("sessionId") == session:
                return
        raise TimeoutError(f"no {event} within {timeout:.0f}s")


@contextmanager
def browser(profile_dir: Path) -> Iterator[DevTools]:
    to_chromium_read, to_chromium_write = os.pipe()
    from_chromium_read, from_chromium_write = os.pipe()
    # Chromium reads commands on fd 3 and writes answers on fd 4.
    argv = [
        "bash",  # dash takes single-digit descriptors only in redirections
        "-c",
        f'exec "$0" "$@" 3<&{to_chromium_read} 4>&{from_chromium_write}',
        chromium(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile_dir}",
        "about:blank",
    ]
    log_path = profile_dir.parent / "chromium.log"
    with log_path.open("wb") as chromium_log:
        process = subprocess.Popen(
            argv,
            pass_fds=(to_chromium_read, from_chromium_write),
            stdin=subprocess.DEVNULL,
            stdout=chromium_log,
            stderr=chromium_log,
        )
    os.close(to_chromium_read)
    os.close(from_chromium_write)
    with os.fdopen(to_chromium_write, "wb") as commands, os.fdopen(from_chromium_read, "rb") as ans:
        try:
            yield DevTools(commands, ans, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def screenshot(
    tools: DevTools,
    url: str,
    out: Path,
    cookies: list[Cookie],
    width: int = WIDTH,
    mobile: bool = False,
) -> None:
    target = tools.call("Target.createTarget", url="about:blank")["targetId"]
    session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    try:
        tools.call("Page.enable", session)
        tools.call("Network.enable", session)
        for cookie in cookies:
            tools.call(
                "Network.setCookie",
                session,
                name=cookie.name,
                value=cookie.value,
                url=url,
                path=cookie.path,
                httpOnly=True,
                sameSite="Lax",
            )
        tools.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        tools.call("Page.navigate", session, url=url)
        tools.wait_for("Page.loadEventFired", session)
        time.sleep(0.5)  # let late layout (fonts, the order page's script) settle
        size = tools.call("Page.getLayoutMetrics", session)["cssContentSize"]
        height = min(max(HEIGHT, int(size["height"])), MAX_HEIGHT)
        shot = tools.call(
            "Page.captureScreenshot",
            session,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        out.write_bytes(base64.b64decode(shot["data"]))
        log.info("screenshot taken", extra={"url": url, "file": str(out)})
    finally:
        tools.call("Target.closeTarget", targetId=target)


def wait_final(client: httpx.Client, order_page: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "http-equiv" not in client.get(order_page).text:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{order_page} did not reach a final status in {timeout:.0f}s")


def check_out(client: httpx.Client, card: str) -> str:
    response = client.post(
        "/cart/checkout",
        data={
            "email": "ada@example.com",
            "street_address": "1 Analytical Way",
            "zip_code": "N1 9GU",
            "city": "London",
            "state": "London",
            "country": "United Kingdom",
            "credit_card_number": card,
            "credit_card_expiration_month": "12",
            "credit_card_expiration_year": "2030",
            "credit_card_cvv": "123",
        },
    )
    if response.status_code != 303:
        raise RuntimeError(f"checkout answered {response.status_code}: {response.text[:500]}")
    order_page = str(response.headers["location"])
    wait_final(client, order_page)
    return order_page


def fill_cart(client: httpx.Client, lines: tuple[tuple[str, int], ...]) -> None:
    for product_id, quantity in lines:
        client.post("/cart", data={"product_id": product_id, "quantity": str(quantity)})


def shop_as_a_shopper(client: httpx.Client) -> tuple[str, str]:
    """One confirmed order, one declined, then a full cart; the two orders' pages."""
    fill_cart(client, (("66VCHSJNUP", 1), ("6E92ZMYYFZ", 2)))
    confirmed = check_out(client, "4242 4242 4242 4242")
    fill_cart(client, (("L9ECAV7KIM", 1),))
    cancelled = check_out(client, "4000 0000 0000 0002")
    fill_cart(client, (("OLJCESPC7Z", 1), ("9SIQT8TOJO", 3), ("1YMWWN1N4O", 1)))
    return confirmed, cancelled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    password = uuid.uuid4().hex
    env = {
        "WEB_SECRET_KEY": uuid.uuid4().hex * 2,
        "ADMIN_PASSWORD_HASH": hash_password(password),
        "WEB_ORDER_POLL_SECONDS": "0.3",
    }
    work = Path(tempfile.mkdtemp(prefix="sidecart-shots-"))
    try:
        log.info("starting the shop on free ports")
        with running_stack(
            RUN_FILE, work / "stack", apps=set(APPS), env=env, profile="redis"
        ) as stack:
            base = stack.app_url("web")
            with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
                confirmed, cancelled = shop_as_a_shopper(client)
                shopper = [Cookie("shop_session-id", client.cookies["shop_session-id"])]
                client.post("/admin/login", data={"password": password})
                admin = [
                    *shopper,
                    Cookie("sidecart_admin", client.cookies["sidecart_admin"], "/admin"),
                ]
            pages = [
                ("home.png", "/", shopper, WIDTH, False),
                ("home-mobile.png", "/", shopper, 390, True),
                ("product.png", "/product/OLJCESPC7Z", shopper, WIDTH, False),
                ("cart.png", "/cart", shopper, WIDTH, False),
                ("cart-mobile.png", "/cart", shopper, 390, True),
                ("order.png", confirmed, shopper, WIDTH, False),
                ("order-cancelled.png", cancelled, shopper, WIDTH, False),
                ("orders.png", "/orders", shopper, WIDTH, False),
                ("error-404.png", "/product/NO-SUCH-THING", shopper, WIDTH, False),
                ("admin-orders.png", "/admin/orders", admin, WIDTH, False),
                ("admin-platform.png", "/admin/platform", admin, WIDTH, False),
            ]
            (work / "profile").mkdir()
            with browser(work / "profile") as tools:
                for name, path, cookies, width, mobile in pages:
                    screenshot(tools, base + path, out / name, cookies, width, mobile)
    except BaseException:
        log.error("screenshots failed; the stack's logs are kept in %s", work / "stack" / "logs")
        raise
    shutil.rmtree(work, ignore_errors=True)
    shots = sorted(p.name for p in out.glob("*.png"))
    log.info("screenshots written", extra={"dir": str(out), "files": shots})
    return 0


if __name__ == "__main__":
    logging.getLogger("httpx").setLevel(logging.WARNING)
    raise SystemExit(main())
