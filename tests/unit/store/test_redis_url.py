"""REDIS_URL: every form the operator may write, and a clear message for every mistake."""

from __future__ import annotations

import pytest
from redis.connection import SSLConnection
from redis.sentinel import SentinelConnectionPool, SentinelManagedConnection

from responder.errors import RedisUrlError
from responder.store import connection
from responder.store.connection import RedisTarget, parse


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", RedisTarget((("127.0.0.1", 6379),), None, 0)),
        ("redis://redis", RedisTarget((("redis", 6379),), None, 0)),
        ("redis://redis/", RedisTarget((("redis", 6379),), None, 0)),
        ("REDIS://redis:6380/3", RedisTarget((("redis", 6380),), None, 3)),
        ("redis://:s3cret@redis:6379/1", RedisTarget((("redis", 6379),), None, 1, password="s3cret")),
        (
            "redis://app:p%40ss%2Fword@redis/2",
            RedisTarget((("redis", 6379),), None, 2, username="app", password="p@ss/word"),
        ),
        ("rediss://redis.example:6380/0", RedisTarget((("redis.example", 6380),), None, 0, tls=True)),
        ("redis://[::1]:6379/0", RedisTarget((("::1", 6379),), None, 0)),
        (
            "redis+sentinel://s1:26379,s2:26380,s3/mymaster",
            RedisTarget((("s1", 26379), ("s2", 26380), ("s3", 26379)), "mymaster", 0),
        ),
        (
            "redis+sentinel://:nodepw@s1,s2/mymaster/4",
            RedisTarget((("s1", 26379), ("s2", 26379)), "mymaster", 4, password="nodepw"),
        ),
        (
            "rediss+sentinel://[::1]:26379,[::2]/svc/0/",
            RedisTarget((("::1", 26379), ("::2", 26379)), "svc", 0, tls=True),
        ),
        (
            "rediss://redis/0?ssl_cert_reqs=none&socket_timeout=2.5&health_check_interval=5",
            RedisTarget(
                (("redis", 6379),),
                None,
                0,
                tls=True,
                options={"ssl_cert_reqs": "none", "socket_timeout": 2.5, "health_check_interval": 5},
            ),
        ),
        (
            "rediss+sentinel://s1/svc?ssl_ca_certs=/etc/ca.pem&ssl_check_hostname=false",
            RedisTarget(
                (("s1", 26379),),
                "svc",
                0,
                tls=True,
                options={"ssl_ca_certs": "/etc/ca.pem", "ssl_check_hostname": False},
            ),
        ),
    ],
)
def test_every_form_of_redis_url_parses(url: str, expected: RedisTarget) -> None:
    assert parse(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "127.0.0.1:6379",
            "REDIS_URL has no scheme: start it with redis://, rediss://, redis+sentinel://, "
            "rediss+sentinel://",
        ),
        (
            "http://redis:6379/0",
            'REDIS_URL: unknown scheme "http": use redis://, rediss://, redis+sentinel://, '
            "rediss+sentinel://",
        ),
        ("redis+cluster://a,b/x", 'REDIS_URL: unknown scheme "redis+cluster"'),
        ("redis://", "REDIS_URL names no host: e.g. redis://redis.example:6379/0"),
        ("redis:///0", "REDIS_URL names no host"),
        ("redis://:6379/0", 'REDIS_URL: ":6379" has a port but no host name'),
        ("redis://redis:abc/0", 'REDIS_URL: port "abc" of host "redis" is not a number from 1 to 65535'),
        ("redis://redis:0/0", 'REDIS_URL: port "0" of host "redis" is not a number from 1 to 65535'),
        ("redis://redis:70000/0", 'REDIS_URL: port "70000" of host "redis"'),
        ("redis://redis/zero", 'REDIS_URL: database "zero" is not a number (e.g. /0)'),
        ("redis://redis/0/1", 'REDIS_URL: unexpected path "/0/1": expected /DB'),
        ("redis://a:6379,b:6379/0", "REDIS_URL: several hosts need Sentinel: redis+sentinel://"),
        ("redis+sentinel://s1:26379,s2:26379", "REDIS_URL: a Sentinel URL names the service after the hosts"),
        ("redis+sentinel://s1:26379/", "REDIS_URL: a Sentinel URL names the service after the hosts"),
        ("redis+sentinel://s1,,s2/svc", 'REDIS_URL: an empty host in the host list "s1,,s2"'),
        ("redis+sentinel://s1/svc/x", 'REDIS_URL: database "x" is not a number'),
        (
            "redis+sentinel://s1/svc/0/extra",
            'REDIS_URL: unexpected path "/0/extra": after the service only a database number may follow',
        ),
        ("redis://[::1/0", "REDIS_URL: unbalanced [ ] around an IPv6 address"),
        ("redis://[::1]x/0", 'REDIS_URL: host "[::1]x" is not [IPv6 address]:port'),
        ("redis://redis/0#frag", "REDIS_URL: a '#' fragment means nothing here; remove it"),
        ("redis://redis/0?timeout=3", 'REDIS_URL: unknown option "timeout"; known: socket_timeout'),
        (
            "redis://redis/0?socket_timeout=soon",
            'REDIS_URL: option socket_timeout must be seconds, not "soon"',
        ),
        (
            "rediss://redis/0?ssl_cert_reqs=maybe",
            'REDIS_URL: option ssl_cert_reqs must be none, optional or required, not "maybe"',
        ),
        (
            "rediss://redis/0?ssl_check_hostname=perhaps",
            "REDIS_URL: option ssl_check_hostname must be true or false",
        ),
        ("redis://redis/0?ssl_cert_reqs=none", "REDIS_URL: ssl_cert_reqs only apply to TLS: use rediss://"),
        ("redis://redis/0?socket_timeout", "REDIS_URL: the query string is not name=value pairs joined by &"),
        ("redis://redis/0?socket_timeout=", 'REDIS_URL: option socket_timeout must be seconds, not ""'),
        ("redis://redis/0?=x&&", "REDIS_URL: the query string is not name=value pairs joined by &"),
    ],
)
def test_a_malformed_redis_url_is_refused_saying_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(RedisUrlError) as caught:
        parse(url)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2/with-slash@redis:6379/0",
        "redis://user:hunter2?x@redis:6379/0",
        "redis://:hunter2#x@redis/0",
        "redis+sentinel://:hunter2/x@s1,s2/svc",
        "redis://:hunter2@redis:port/0",
        "redis://:hunter2@redis/db",
    ],
)
def test_an_error_about_a_url_with_a_password_never_repeats_it(url: str) -> None:
    with pytest.raises(RedisUrlError) as caught:
        parse(url)
    assert "hunter2" not in str(caught.value)


def test_describe_leaves_the_password_out() -> None:
    target = parse("rediss+sentinel://:pw@s1,[::1]:26380/svc/2")
    assert target.describe() == "rediss+sentinel://s1:26379,[::1]:26380/svc/2"
    assert "pw" not in repr(target)


def test_a_plain_url_gives_a_client_for_that_node_with_the_profiles_retry_and_health_checks() -> None:
    client = connection.connect("rediss://:pw@redis.example:6380/3?socket_timeout=7", connection.WEB)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "redis.example",
        6380,
        3,
        "pw",
    )
    assert client.connection_pool.connection_class is SSLConnection
    assert kwargs["socket_timeout"] == 7  # the URL's option wins over the profile's 5 s
    assert kwargs["socket_connect_timeout"] == connection.WEB.connect_timeout
    assert kwargs["health_check_interval"] == connection.WEB.health_check_interval
    assert kwargs["retry"].get_retries() == connection.WEB.retries


def test_a_sentinel_url_gives_a_sentinel_managed_client_and_the_sentinels_their_own_password() -> None:
    client = connection.connect(
        "redis+sentinel://:nodepw@s1:26379,s2/mymaster/2",
        connection.WORKER,
        environ={"REDIS_SENTINEL_PASSWORD": "sentinelpw"},
    )
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster"
    assert issubclass(pool.connection_class, SentinelManagedConnection)
    assert not issubclass(pool.connection_class, SSLConnection)
    assert (pool.connection_kwargs["db"], pool.connection_kwargs["password"]) == (2, "nodepw")
    assert pool.connection_kwargs["retry"].get_retries() == connection.WORKER.retries
    sentinels = pool.sentinel_manager.sentinels
    assert [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in sentinels
    ] == [("s1", 26379), ("s2", 26379)]
    assert {s.connection_pool.connection_kwargs["password"] for s in sentinels} == {"sentinelpw"}


def test_rediss_sentinel_uses_tls_to_the_nodes_and_to_the_sentinels() -> None:
    client = connection.connect("rediss+sentinel://s1/svc?ssl_cert_reqs=none", environ={})
    pool = client.connection_pool
    assert issubclass(pool.connection_class, SentinelManagedConnection)
    assert issubclass(pool.connection_class, SSLConnection)
    [sentinel] = pool.sentinel_manager.sentinels
    assert sentinel.connection_pool.connection_class is SSLConnection
    assert sentinel.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"
    assert sentinel.connection_pool.connection_kwargs["password"] is None


@pytest.mark.parametrize(("value", "expected"), [(None, 0), ("", 0), ("0", 0), ("2", 2), (" 1 ", 1)])
def test_redis_wait_replicas_reads_a_whole_number(value: str | None, expected: int) -> None:
    environ = {} if value is None else {"REDIS_WAIT_REPLICAS": value}
    assert connection.wait_replicas(environ) == expected


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_redis_wait_replicas_is_refused(value: str) -> None:
    with pytest.raises(
        RedisUrlError, match=rf'REDIS_WAIT_REPLICAS must be a whole number \(0 or more\), not "{value}"'
    ):
        connection.wait_replicas({"REDIS_WAIT_REPLICAS": value})


def test_an_unset_redis_url_means_the_local_default() -> None:
    assert connection.url_from_env({}) == "redis://127.0.0.1:6379/0"
    assert connection.url_from_env({"REDIS_URL": ""}) == "redis://127.0.0.1:6379/0"
    assert connection.check_env({"REDIS_URL": "redis+sentinel://s1/svc"}).service == "svc"
