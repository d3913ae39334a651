"""`python -m services.payment`: the command in the multi-app run file."""

from services.payment.app import create_app
from services.payment.settings import PaymentSettings
from sidecart.service.server import load_settings, serve

if __name__ == "__main__":
    serve(create_app, load_settings(PaymentSettings, "payment"))
