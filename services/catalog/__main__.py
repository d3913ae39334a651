"""`python -m services.catalog`: the command in the multi-app run file."""

from services.catalog.app import create_app
from services.catalog.settings import CatalogSettings
from sidecart.service.server import load_settings, serve

if __name__ == "__main__":
    serve(create_app, load_settings(CatalogSettings, "catalog"))
