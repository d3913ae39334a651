"""load_settings: one line per bad variable, naming it, and never echoing a secret's value."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import Field, SecretStr, field_validator, model_validator

from sidecart.service.server import load_settings, uvicorn_config
from sidecart.service.settings import ServiceSettings

SECRET = "hunter2-do-not-log-me"


class ShopSettings(ServiceSettings):
    signing: SecretStr | None = Field(None, validation_alias="WEB_SECRET_KEY")
    admin_password_hash: SecretStr | None = Field(None, validation_alias="ADMIN_PASSWORD_HASH")
    api_token: str = Field("", validation_alias="PAYMENT_API_TOKEN", max_length=4)
    opaque: SecretStr | None = Field(None, validation_alias="OPAQUE_VALUE")

    @field_validator("signing")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("opaque")
    @classmethod
    def _never(cls, value: SecretStr | None) -> SecretStr | None:
        raise ValueError("is rejected")


def failing_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> str:
    for name, value in {"APP_ID": "web", "APP_PORT": "8000", **env}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        load_settings(ShopSettings, "web")
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_a_bad_secret_is_named_and_explained_but_its_value_is_never_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = failing_output(monkeypatch, capsys, {"WEB_SECRET_KEY": SECRET})
    assert "web: bad configuration: WEB_SECRET_KEY:" in err
    assert "at least 32 characters" in err
    assert SECRET not in err


def test_a_secretstr_field_is_never_echoed_whatever_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = failing_output(monkeypatch, capsys, {"OPAQUE_VALUE": SECRET})
    assert "OPAQUE_VALUE: Value error, is rejected" in err
    assert SECRET not in err


def test_a_variable_named_like_a_secret_is_never_echoed_even_when_typed_str(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = failing_output(monkeypatch, capsys, {"PAYMENT_API_TOKEN": SECRET})
    assert "PAYMENT_API_TOKEN:" in err
    assert SECRET not in err


def test_a_plain_bad_variable_still_shows_what_it_got(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = failing_output(monkeypatch, capsys, {"APP_PORT": "eighty", "WEB_SECRET_KEY": SECRET})
    assert "web: bad configuration: APP_PORT:" in err
    assert "(got 'eighty')" in err
    assert SECRET not in err


class CheckedAsAWhole(ServiceSettings):
    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, data: object) -> object:
        raise ValueError("settings do not fit together")


def test_an_error_about_the_settings_as_a_whole_never_echoes_every_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEB_SECRET_KEY", SECRET)
    with pytest.raises(SystemExit):
        load_settings(CheckedAsAWhole, "web")
    err = capsys.readouterr().err
    assert "web: bad configuration: SETTINGS: Value error, settings do not fit together" in err
    assert SECRET not in err


def client_seen_by_the_app(forwarded_allow_ips: str | None) -> str:
    """Which address a route sees when a local client sends X-Forwarded-For, as served."""
    app = FastAPI()

    @app.get("/who")
    async def who(request: Request) -> str:
        return request.client.host if request.client else ""

    env = {"APP_ID": "web", "APP_PORT": "8000"}
    if forwarded_allow_ips is not None:
        env["FORWARDED_ALLOW_IPS"] = forwarded_allow_ips
    config = uvicorn_config(app, ServiceSettings.model_validate(env))
    config.load()

    async def ask() -> str:
        transport = httpx.ASGITransport(app=config.loaded_app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as http:
            answer = await http.get("/who", headers={"x-forwarded-for": "203.0.113.77"})
        return str(answer.json())

    return asyncio.run(ask())


def test_a_forwarded_address_from_a_local_client_is_ignored_unless_proxies_are_named() -> None:
    assert client_seen_by_the_app(None) == "127.0.0.1"


def test_a_named_proxy_is_believed_about_the_client_address() -> None:
    assert client_seen_by_the_app("127.0.0.1") == "203.0.113.77"
