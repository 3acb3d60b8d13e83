"""Connecting to Redis: the one place ``REDIS_URL`` is read, checked and turned into a client.

Every process (web, worker, RQ's scheduler inside the worker, the CLI) gets its client
here, so a Sentinel-managed or TLS Redis works everywhere or nowhere. Forms::

    redis://[[user]:password@]host[:port][/db][?option=value&...]
    rediss://...                          TLS
    redis+sentinel://[[user]:password@]host1[:port],host2[:port]/service[/db][?option=value&...]
    rediss+sentinel://...                 TLS to the sentinels and to the Redis nodes

The URL's password is the Redis nodes'; the sentinels' is ``REDIS_SENTINEL_PASSWORD``.
A URL that does not parse stops the process at start with a :class:`RedisUrlError`
naming what is wrong (never repeating the password).

How long a client keeps trying before it reports Redis unreachable depends on who
asks (:class:`Patience`): the web answers 503 within about a second so Alertmanager
retries; a worker rides over a restart or a short failover inside the job it is running.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from redis import Redis
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.connection import SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MasterDownError, ReadOnlyError, RedisError, ResponseError, TryAgainError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from responder.errors import RedisUrlError

DEFAULT_URL = "redis://127.0.0.1:6379/0"
REDIS_PORT = 6379
SENTINEL_PORT = 26379
WAIT_TIMEOUT_MS = 500
"""How long the webhook waits for ``REDIS_WAIT_REPLICAS`` replicas to confirm an accepted batch."""

_SCHEMES = {
    "redis": (False, False),
    "rediss": (False, True),
    "redis+sentinel": (True, False),
    "rediss+sentinel": (True, True),
}
"""scheme -> (through Sentinel, TLS)."""


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _cert_reqs(value: str) -> str:
    if value not in ("none", "optional", "required"):
        raise ValueError(value)
    return value


_OPTIONS: dict[str, tuple[Callable[[str], Any], str]] = {
    "socket_timeout": (float, "seconds"),
    "socket_connect_timeout": (float, "seconds"),
    "health_check_interval": (int, "whole seconds"),
    "max_connections": (int, "a whole number"),
    "ssl_cert_reqs": (_cert_reqs, "none, optional or required"),
    "ssl_ca_certs": (str, "a file path"),
    "ssl_certfile": (str, "a file path"),
    "ssl_keyfile": (str, "a file path"),
    "ssl_check_hostname": (_flag, "true or false"),
}
"""Query-string options a URL may carry: name -> (parser, what the value must be)."""
_TLS_OPTIONS = frozenset(name for name in _OPTIONS if name.startswith("ssl_"))


@dataclass(frozen=True)
class RedisTarget:
    """What ``REDIS_URL`` says: where Redis is and how to talk to it."""

    hosts: tuple[tuple[str, int], ...]
    """The Redis node (one), or the sentinels (one or more)."""
    service: str | None
    """The Sentinel service (master) name; None for a plain URL."""
    db: int = 0
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sentinel(self) -> bool:
        return self.service is not None

    def describe(self) -> str:
        """The URL without its password, for logs and banners."""
        scheme = ("rediss" if self.tls else "redis") + ("+sentinel" if self.sentinel else "")
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)
        path = f"/{self.service}/{self.db}" if self.sentinel else f"/{self.db}"
        return f"{scheme}://{hosts}{path}"


def parse(url: str) -> RedisTarget:
    """Read a ``REDIS_URL``.

    Raises:
        RedisUrlError: naming what is wrong; the message never contains the password.
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise RedisUrlError(f"REDIS_URL has no scheme: start it with {_known_schemes()}")
    if scheme.lower() not in _SCHEMES:
        raise RedisUrlError(f'REDIS_URL: unknown scheme "{scheme}": use {_known_schemes()}')
    through_sentinel, tls = _SCHEMES[scheme.lower()]
    try:
        parts = urlsplit(url)
    except ValueError:
        raise RedisUrlError("REDIS_URL: unbalanced [ ] around an IPv6 address") from None
    if "@" in url[len(scheme) + 3 :] and "@" not in parts.netloc:
        # The password holds a / ? or #, which ends the host part early: anything quoted from here on
        # could be a piece of it, so say what to do without quoting.
        raise RedisUrlError("REDIS_URL: percent-encode / ? # in the password (%2F %3F %23)")
    if parts.fragment:
        raise RedisUrlError("REDIS_URL: a '#' fragment means nothing here; remove it")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, password = _credentials(userinfo)
    hosts = _hosts(hostlist, SENTINEL_PORT if through_sentinel else REDIS_PORT, many=through_sentinel)
    segments = [unquote(s) for s in parts.path.split("/")[1:]]
    if segments and segments[-1] == "":
        segments.pop()  # a trailing slash
    if through_sentinel:
        if not segments or not segments[0]:
            raise RedisUrlError(
                "REDIS_URL: a Sentinel URL names the service after the hosts: "
                "redis+sentinel://host1:26379,host2:26379/SERVICE[/DB]"
            )
        service: str | None = segments.pop(0)
    else:
        service = None
    if len(segments) > 1:
        raise RedisUrlError(
            f'REDIS_URL: unexpected path "/{"/".join(segments)}": '
            + ("after the service only a database number may follow" if service else "expected /DB")
        )
    db = _db(segments[0]) if segments else 0
    options = _options(parts.query)
    if not tls and _TLS_OPTIONS & options.keys():
        used = ", ".join(sorted(_TLS_OPTIONS & options.keys()))
        raise RedisUrlError(f"REDIS_URL: {used} only apply to TLS: use rediss:// or rediss+sentinel://")
    return RedisTarget(hosts, service, db, tls, username, password, options)


def _known_schemes() -> str:
    return ", ".join(f"{s}://" for s in _SCHEMES)


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    if not userinfo:
        return None, None
    user, has_password, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if has_password and password else None)


def _hosts(hostlist: str, default_port: int, *, many: bool) -> tuple[tuple[str, int], ...]:
    if not hostlist:
        raise RedisUrlError("REDIS_URL names no host: e.g. redis://redis.example:6379/0")
    entries = hostlist.split(",")
    if len(entries) > 1 and not many:
        raise RedisUrlError(
            "REDIS_URL: several hosts need Sentinel: redis+sentinel://host1:26379,host2:26379/SERVICE"
        )
    hosts = []
    for entry in entries:
        if not entry:
            raise RedisUrlError(f'REDIS_URL: an empty host in the host list "{hostlist}"')
        hosts.append(_host(entry, default_port))
    return tuple(hosts)


def _host(entry: str, default_port: int) -> tuple[str, int]:
    if entry.startswith("["):  # [IPv6]:port
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise RedisUrlError(f'REDIS_URL: host "{entry}" is not [IPv6 address]:port')
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = entry.partition(":")
    if not host:
        raise RedisUrlError(f'REDIS_URL: "{entry}" has a port but no host name')
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RedisUrlError(f'REDIS_URL: port "{port_text}" of host "{host}" is not a number from 1 to 65535')
    return host, int(port_text)


def _db(text: str) -> int:
    if not text.isdigit():
        raise RedisUrlError(f'REDIS_URL: database "{text}" is not a number (e.g. /0)')
    return int(text)


def _options(query: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise RedisUrlError("REDIS_URL: the query string is not name=value pairs joined by &") from None
    for name, value in pairs:
        if name not in _OPTIONS:
            raise RedisUrlError(f'REDIS_URL: unknown option "{name}"; known: {", ".join(_OPTIONS)}')
        parser, expected = _OPTIONS[name]
        try:
            options[name] = parser(value)
        except ValueError:
            raise RedisUrlError(f'REDIS_URL: option {name} must be {expected}, not "{value}"') from None
    return options


@dataclass(frozen=True)
class Patience:
    """How long a client keeps trying before it reports Redis unreachable (see docs/operations.md)."""

    retries: int
    """Attempts after the first, on a dropped connection or a timeout."""
    backoff_base: float
    backoff_cap: float
    socket_timeout: float
    connect_timeout: float
    health_check_interval: int
    """PING a pooled connection idle for longer than this before a command goes out on it."""

    def retry(self) -> Retry:
        if not self.retries:
            return Retry(NoBackoff(), 0)
        return Retry(EqualJitterBackoff(cap=self.backoff_cap, base=self.backoff_base), self.retries)


WEB = Patience(
    retries=2,
    backoff_base=0.05,
    backoff_cap=0.25,
    socket_timeout=5,
    connect_timeout=1,
    health_check_interval=10,
)
"""Answer 503 within about a second when Redis is down, but ride over one dropped connection."""
WORKER = Patience(
    retries=10,
    backoff_base=0.1,
    backoff_cap=1,
    socket_timeout=10,
    connect_timeout=2,
    health_check_interval=10,
)
"""Ride over a restart (5-8 s of retries, a try at least every second) inside a job; longer outages
hand the job back."""
PROBE = Patience(
    retries=0, backoff_base=0, backoff_cap=0, socket_timeout=1, connect_timeout=1, health_check_interval=0
)
"""One quick attempt: a readiness probe must answer within its own timeout."""


def url_from_env(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("REDIS_URL") or DEFAULT_URL


def check_env(environ: Mapping[str, str] | None = None) -> RedisTarget:
    """Parse ``REDIS_URL`` and ``REDIS_WAIT_REPLICAS`` at start, so a bad value stops the process at once.

    Raises:
        RedisUrlError: either is malformed.
    """
    target = parse(url_from_env(environ))
    wait_replicas(environ)
    return target


def connect(
    url: str | None = None,
    patience: Patience = WORKER,
    *,
    environ: Mapping[str, str] | None = None,
) -> Redis:
    """A client for ``url`` (default ``REDIS_URL``); it connects lazily, so a Redis down now is no error.

    Raises:
        RedisUrlError: the URL is malformed.
    """
    environ = os.environ if environ is None else environ
    target = parse(url or url_from_env(environ))
    node: dict[str, Any] = {
        "db": target.db,
        "username": target.username,
        "password": target.password,
        "socket_timeout": patience.socket_timeout,
        "socket_connect_timeout": patience.connect_timeout,
        "socket_keepalive": True,
        "retry": patience.retry(),
        "health_check_interval": patience.health_check_interval,
    }
    tls_options = {k: v for k, v in target.options.items() if k in _TLS_OPTIONS}
    node.update(target.options)  # the URL's own options win over the profile's
    if not target.sentinel:
        host, port = target.hosts[0]
        return Redis(host=host, port=port, ssl=target.tls, **node)
    sentinels = Sentinel(
        list(target.hosts),
        sentinel_kwargs={
            "password": environ.get("REDIS_SENTINEL_PASSWORD") or None,
            "socket_timeout": min(patience.socket_timeout, 2.0),
            "socket_connect_timeout": min(patience.connect_timeout, 1.0),
            "ssl": target.tls,
            **tls_options,
            # Master discovery moves on to the next sentinel itself; retrying one would only add waits.
            "retry": Retry(NoBackoff(), 0),
        },
    )
    assert target.service is not None
    client: Redis = sentinels.master_for(
        target.service,
        redis_class=Redis,
        connection_class=FollowingSSLConnection if target.tls else FollowingConnection,
        **node,
    )
    return client


class FollowingConnection(SentinelManagedConnection):
    """A Sentinel-managed connection that, when a command is retried on it after it dropped, asks
    Sentinel where the primary is now.

    redis-py's send path reconnects a dropped connection to the address it last had, not
    through the Sentinel lookup its ``connect()`` does; after a failover each retry of the
    command in flight then hits the dead primary until the retries run out, seconds after
    the new primary is up. This one reconnects through Sentinel.
    """

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._sock:
            self.connect()
        super().send_packed_command(command, check_health)


class FollowingSSLConnection(FollowingConnection, SSLConnection):
    """:class:`FollowingConnection` over TLS (``rediss+sentinel://``)."""


def wait_replicas(environ: Mapping[str, str] | None = None) -> int:
    """``REDIS_WAIT_REPLICAS``: how many replicas must hold an accepted batch before the webhook says 200.

    Raises:
        RedisUrlError: the value is not a whole number of 0 or more.
    """
    environ = os.environ if environ is None else environ
    raw = (environ.get("REDIS_WAIT_REPLICAS") or "0").strip()
    if not raw.isdigit():
        raise RedisUrlError(f'REDIS_WAIT_REPLICAS must be a whole number (0 or more), not "{raw}"')
    return int(raw)


UNAVAILABLE: tuple[type[RedisError], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    MasterDownError,
    TryAgainError,
)
"""Exception types that always mean Redis is unavailable (for ``except`` clauses and error handlers)."""


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means Redis is out of reach or in the middle of a failover (not a bug of ours).

    A dropped or refused connection, a timeout, a server still loading its AOF, or a
    primary that has just become a replica (its writes refused, its blocked clients let go).
    """
    if isinstance(exc, UNAVAILABLE):
        return True
    if isinstance(exc, ResponseError):
        text = str(exc)
        return text.startswith(("UNBLOCKED", "MASTERDOWN", "LOADING", "READONLY", "TRYAGAIN"))
    return False
