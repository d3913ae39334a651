"""`python -m web`: the command in the multi-app run file."""

from sidecart.service.server import load_settings, serve
from web.app import create_app
from web.settings import WebSettings

if __name__ == "__main__":
    serve(create_app, load_settings(WebSettings, "web"))
