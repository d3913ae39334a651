"""`python -m services.cart`: the command in the multi-app run file."""

from services.cart.app import create_app
from services.cart.settings import CartSettings
from sidecart.service.server import load_settings, serve

if __name__ == "__main__":
    serve(create_app, load_settings(CartSettings, "cart"))
