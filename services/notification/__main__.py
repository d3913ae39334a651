"""`python -m services.notification`: the command in the multi-app run file."""

from services.notification.app import create_app
from services.notification.settings import NotificationSettings
from sidecart.service.server import load_settings, serve

if __name__ == "__main__":
    serve(create_app, load_settings(NotificationSettings, "notification"))
