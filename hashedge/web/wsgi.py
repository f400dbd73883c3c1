"""WSGI entry point for gunicorn: ``gunicorn "hashedge.web.wsgi:app"`` (configuration from env)."""

from hashedge.web import create_app

app = create_app()
