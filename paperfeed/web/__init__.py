"""The web layer: server-rendered pages and the JSON API over the same view functions."""

from paperfeed.web.app import create_app

__all__ = ["create_app"]
