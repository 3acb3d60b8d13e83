"""What holds when the web app serves without a token (``responder up`` on loopback).

Without tokens, anything that reaches the port may use it, and that includes web pages
open in the operator's browser: a page can post to ``http://127.0.0.1:8080`` (cross-site
request forgery), or make its own name resolve to 127.0.0.1 (DNS rebinding) and then read
the answers as its own. Alerts run playbooks with the operator's kubeconfig, so, whenever
a token is missing:

- the ``Host`` header must name the address served (for a loopback bind: ``127.0.0.1``,
  ``localhost`` or ``[::1]`` with its port); a rebound name gets 421. ``/slack/interactions``
  is exempt: it acts only on bodies signed with the Slack signing secret, so a rebound page
  gains nothing there, and Slack reaches a laptop only through a tunnel with its own name;
- POST, PUT, PATCH and DELETE from another site get 403: an ``Origin`` that is not this
  host, or ``Sec-Fetch-Site`` other than ``same-origin``/``none``. Clients that send neither
  (Alertmanager, curl, the CLI) are not browsers and pass;
- the webhook requires ``Content-Type: application/json`` (415): the one type a page
  cannot send cross-site without a CORS preflight, which this app never grants.

The dashboard (``/ui/``) is held to the same rules: its pages need the right ``Host`` (a
rebound page cannot read the incident list), and its buttons are POSTs, refused from
another site here before the dashboard's own CSRF check (:mod:`responder.dashboard.auth`)
even runs. Its form posts are not JSON, and need not be: a page from another site cannot
read the CSRF token that each of them carries.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

from flask import Flask, Response, request

from responder.webhook.errors import error

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE = frozenset({"same-origin", "none"})
"""``Sec-Fetch-Site`` values of a request the user made on this origin or typed themselves."""
JSON_ONLY = frozenset({"/webhook/alertmanager"})
SIGNED = frozenset({"/slack/interactions"})
"""Paths that accept only requests signed with a secret a web page cannot have."""
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})

_HOST = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]/@\s]+)(?::(?P<port>[0-9]{1,5}))?")


@dataclass(frozen=True)
class Served:
    """The address served, as a ``Host`` header must name it."""

    names: frozenset[str]
    port: int
    any_ip: bool = False
    """A wildcard bind (0.0.0.0): any IP literal is this host; no name is but ``localhost``."""

    def accepts(self, header: str) -> bool:
        return _accepts(self, header)


@functools.lru_cache(maxsize=256)
def _accepts(served: Served, header: str) -> bool:
    """Whether ``header`` names ``served``; remembered, since every request repeats one of a few Hosts."""
    match = _HOST.fullmatch(header.strip().lower())
    if match is None:
        return False
    host = match["host"].strip("[]")
    port = int(match["port"]) if match["port"] else 80
    if port != served.port:
        return False
    return host in served.names or (served.any_ip and _is_ip(host))


def served(bind: str) -> Served | None:
    """The address ``bind`` (gunicorn's ``--bind``) serves, or None for a Unix socket or an fd."""
    if bind.startswith(("unix:", "fd://")):
        return None
    host, _, port = bind.rpartition(":") if not bind.endswith("]") else (bind, "", "")
    if not host or not port.isdigit():  # "HOST" alone: gunicorn's default port
        host, port = bind, "8000"
    host = host.strip("[]").lower()
    if host in WILDCARDS:
        return Served(frozenset({"localhost"}), int(port), any_ip=True)
    if host in LOOPBACK_NAMES or (_is_ip(host) and ipaddress.ip_address(host).is_loopback):
        return Served(LOOPBACK_NAMES | {host}, int(port))
    return Served(frozenset({host}), int(port))


def install(app: Flask, bind: str) -> None:
    """Hold every request to the rules above (call only when a token is missing)."""
    address = served(bind)
    if address is None:
        return

    @app.before_request
    def guard() -> tuple[Response, int] | None:
        # Read from the WSGI environ: werkzeug's header and content-type parsing cost every request.
        environ = request.environ
        host = environ.get("HTTP_HOST", "")
        if request.path not in SIGNED and not address.accepts(host):
            return error(
                421,
                f"the Host header must name the address this responder serves ({bind}): it runs "
                "without tokens, so requests for any other name are refused (DNS rebinding)",
            )
        if request.method in UNSAFE_METHODS and _cross_site(host):
            return error(
                403,
                "cross-site request refused: this responder runs without tokens, so it changes "
                "nothing for a page from another site; use the CLI, curl, or set the tokens",
            )
        if request.path in JSON_ONLY and _mimetype(environ.get("CONTENT_TYPE", "")) != "application/json":
            return error(415, "send Content-Type: application/json (Alertmanager does)")
        return None


def _mimetype(content_type: str) -> str:
    """The media type of a Content-Type header, as werkzeug's ``request.mimetype`` gives it."""
    return content_type.partition(";")[0].strip().lower()


def _cross_site(host: str) -> bool:
    environ = request.environ
    site = environ.get("HTTP_SEC_FETCH_SITE")
    if site is not None and site.lower() not in SAME_SITE:
        return True
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return False
    # The Host header was checked above; an Origin must be this very scheme, host and port.
    return origin.lower() not in {f"http://{host.lower()}", f"https://{host.lower()}"}


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
