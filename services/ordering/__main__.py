"""`python -m services.ordering`: the command in the multi-app run file."""

from services.ordering.app import create_app
from services.ordering.settings import OrderingSettings
from sidecart.service.server import load_settings, serve

if __name__ == "__main__":
    serve(create_app, load_settings(OrderingSettings, "ordering"))
