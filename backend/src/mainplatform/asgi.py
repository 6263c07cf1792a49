"""The uvicorn entry point: ``mainplatform.asgi:app`` is a factory (``--factory``)."""

from __future__ import annotations

from starlette.applications import Starlette

from mainplatform import logs
from mainplatform.app import create_app
from mainplatform.config import Settings


def app() -> Starlette:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    return create_app(settings)
