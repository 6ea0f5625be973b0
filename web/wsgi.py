"""WSGI entry point for gunicorn: `gunicorn clusterpbx.web.wsgi:app`."""

from clusterpbx.web import create_app

app = create_app()
