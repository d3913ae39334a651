"""The API tokens in the shared settings: optional, checked at start, never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sidecart.service.server import load_settings
from sidecart.service.settings import ServiceSettings

TOKEN = "tok-0123456789abcdef-XYZ_~.!"


def settings(**env: str) -> ServiceSettings:
    return ServiceSettings.model_validate({"APP_ID": "cart", "APP_PORT": 8102, **env})


def test_without_tokens_authentication_is_off_and_the_sidecar_gets_no_header() -> None:
    plain = settings()
    assert plain.dapr_api_token is None
    assert plain.app_api_token is None
    assert plain.dapr_http_headers == {}


def test_the_sidecar_headers_carry_the_dapr_api_token_not_the_app_token() -> None:
    both = settings(DAPR_API_TOKEN=TOKEN, APP_API_TOKEN="another-token-of-sixteen")
    assert both.dapr_http_headers == {"dapr-api-token": TOKEN}


@pytest.mark.parametrize("variable", ["DAPR_API_TOKEN", "APP_API_TOKEN"])
def test_an_empty_token_is_refused_rather_than_taken_for_off(variable: str) -> None:
    with pytest.raises(ValidationError, match="set but empty"):
        settings(**{variable: ""})


@pytest.mark.parametrize("token", [TOKEN + "\n", " " + TOKEN, "tok 0123456789abcdef", TOKEN + "é"])
def test_a_token_that_cannot_travel_in_a_header_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="visible ASCII"):
        settings(APP_API_TOKEN=token)


def test_a_token_too_short_to_be_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        settings(DAPR_API_TOKEN="changeme")


def test_the_tokens_never_show_in_the_settings_repr() -> None:
    shown = repr(settings(DAPR_API_TOKEN=TOKEN, APP_API_TOKEN=TOKEN[::-1]))
    assert TOKEN not in shown and TOKEN[::-1] not in shown


def test_a_bad_token_at_start_is_one_line_naming_it_without_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {"APP_ID": "cart", "APP_PORT": "8102", "APP_API_TOKEN": "short-x"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        load_settings(ServiceSettings, "cart")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("cart: bad configuration: APP_API_TOKEN:")
    assert "at least 16 characters" in err
    assert "short-x" not in err
