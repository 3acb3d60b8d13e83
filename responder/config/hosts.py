"""``http.allowed_hosts``: where ``http.request`` may go.

An entry is a host name or IP literal (any port), ``host:port`` (that port only), or
``*.suffix`` (any subdomain of suffix, not suffix itself; ``*.suffix:port`` for one port).
Names compare case-insensitively and without a trailing dot, IP literals by value
(``[::1]`` and ``::1`` are one host). Parsing is for the config; matching is for
``responder check`` (literal URLs) and for the action (the rendered URL).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

DEFAULT_PORTS = {"http": 80, "https": 443}
_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


@dataclass(frozen=True)
class HostPattern:
    host: str
    """A lowercase name without trailing dot, or a normalized IP literal; for ``*.x``, ``x``."""
    port: int | None = None
    subdomains: bool = False

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.subdomains:
            return host.endswith("." + self.host)
        return host == self.host


def normalize_host(host: str) -> str:
    """A URL's host as patterns hold hosts: lowercase, no brackets or trailing dot, IPs normalized."""
    host = host.strip().strip("[]").lower().rstrip(".")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host


def parse_pattern(text: str) -> HostPattern:
    """Raises ValueError with what is wrong and what to write instead."""
    entry = text.strip().lower()
    if "/" in entry or "@" in entry or not entry:
        raise ValueError(
            f'"{text}" is not a host: write a name, an IP, host:port or *.suffix, without scheme or path'
        )
    port: int | None = None
    host = entry
    try:
        ipaddress.ip_address(entry.strip("[]"))  # a bare IPv6 address holds colons but no port
    except ValueError:
        if ":" in entry:
            host, _, port_text = entry.rpartition(":")
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f'"{text}": the port must be a number from 1 to 65535') from None
            port = int(port_text)
    subdomains = host.startswith("*.")
    if subdomains:
        host = host[2:]
    if "*" in host:
        raise ValueError(f'"{text}": a wildcard is only allowed as a leading "*." (like *.example.com)')
    host = host.strip("[]").rstrip(".")
    try:
        return HostPattern(ipaddress.ip_address(host).compressed, port, subdomains=False)
    except ValueError:
        pass
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f'"{text}" is not a valid host name') from None
    if not _NAME.fullmatch(host):
        raise ValueError(f'"{text}" is not a valid host name')
    return HostPattern(host, port, subdomains)


def url_host(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an absolute http(s) URL as urllib3 (under requests) will connect to it;
    None when it is not one, or carries credentials (``user:pass@``)."""
    try:
        parsed = parse_url(url)
    except LocationParseError:
        return None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.host or parsed.auth is not None:
        return None
    return normalize_host(parsed.host), parsed.port or DEFAULT_PORTS[parsed.scheme]


def allowed(patterns: Iterable[str], host: str, port: int) -> bool:
    """Whether ``host:port`` is in ``patterns`` (entries that do not parse match nothing)."""
    for text in patterns:
        try:
            pattern = parse_pattern(text)
        except ValueError:
            continue
        if pattern.matches(host, port):
            return True
    return False


def allowed_on_some_port(patterns: Iterable[str], host: str) -> bool:
    """Whether any pattern names ``host`` (for a URL template whose port is templated)."""
    for text in patterns:
        try:
            pattern = parse_pattern(text)
        except ValueError:
            continue
        if pattern.matches(host, pattern.port or 0):
            return True
    return False
