"""REST API (Plivo-compatible paths) over the store; see ``app.py``."""

from callplane.api.app import create_app

__all__ = ["create_app"]
