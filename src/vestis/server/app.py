"""The documented path of the app factory, `vestis.server.app:create_app`, kept.

The app is made in `vestis.server.http.app`; this module only names it."""

from vestis.server.http.app import WEB_APPS, attach_engine, create_app

__all__ = ["WEB_APPS", "attach_engine", "create_app"]
