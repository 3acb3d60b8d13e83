"""Helpers for the dashboard's tests: reading a page's CSRF token, logging in with the test client."""

from __future__ import annotations

import re
import threading

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from responder.up import free_port

TOKEN = "dashboard-test-token-3c1e"
"""RESPONDER_API_TOKEN of the dashboard tests that log in."""

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms send (every page has it in a meta tag)."""
    match = _CSRF.search(html)
    assert match is not None, "the page has no CSRF token"
    return match.group(1)


def csrf(client: FlaskClient, path: str = "/ui/") -> str:
    """This client's CSRF token, read from ``path`` as a browser would."""
    return csrf_of(client.get(path).get_data(as_text=True))


def log_in(client: FlaskClient, name: str, token: str = TOKEN) -> None:
    response = client.post(
        "/ui/login", data={"name": name, "token": token, "csrf_token": csrf(client, "/ui/login")}
    )
    assert response.status_code == 303, response.get_data(as_text=True)


class Served:
    """The app on a free loopback port, served by werkzeug in a thread."""

    def __init__(self, app: Flask) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(10)
