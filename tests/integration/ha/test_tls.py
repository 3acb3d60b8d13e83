"""rediss:// and rediss+sentinel:// against real TLS Redis and Sentinel, trusting a private CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from redis.exceptions import ConnectionError as RedisConnectionError

from responder.store import connection
from responder.up import free_port
from tests.redis_servers import Node, wait_until


@pytest.fixture
def tls_files(ca: trustme.CA, tmp_path: Path) -> dict[str, str]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {"cert": tmp_path / "server.pem", "key": tmp_path / "server.key", "ca": tmp_path / "ca.pem"}
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    ca.cert_pem.write_to_path(str(files["ca"]))
    return {name: str(path) for name, path in files.items()}


def tls_args(files: dict[str, str]) -> list[str]:
    return [
        "--tls-cert-file", files["cert"], "--tls-key-file", files["key"],
        "--tls-ca-cert-file", files["ca"], "--tls-auth-clients", "no",
    ]  # fmt: skip


@pytest.fixture
def tls_redis(tls_files: dict[str, str], tmp_path: Path) -> Iterator[Node]:
    port = free_port()
    node = Node(
        "tls-redis",
        port,
        tmp_path / "tls-redis",
        ["--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "", *tls_args(tls_files)],
    )
    yield node
    node.stop()


def start(node: Node, url: str) -> None:
    node.start_process()
    wait_until(connection.connect(url, connection.PROBE, environ={}).ping, 15, f"{node.name} did not answer")


def test_rediss_url_talks_tls_and_trusts_the_ca_it_is_given(
    tls_redis: Node, tls_files: dict[str, str]
) -> None:
    url = f"rediss://127.0.0.1:{tls_redis.port}/0?ssl_ca_certs={tls_files['ca']}"
    start(tls_redis, url)

    client = connection.connect(url, environ={})
    client.set("tls", "yes")

    assert client.get("tls") == b"yes"
    # The same server, not trusting its CA: the certificate is checked, so no connection.
    with pytest.raises(RedisConnectionError, match="certificate verify failed"):
        connection.connect(f"rediss://127.0.0.1:{tls_redis.port}/0", connection.PROBE, environ={}).ping()


def test_rediss_sentinel_url_reaches_sentinel_and_primary_over_tls(
    tls_files: dict[str, str], tmp_path: Path
) -> None:
    primary_port, sentinel_port = free_port(), free_port()
    primary = Node(
        "tls-primary",
        primary_port,
        tmp_path / "tls-primary",
        [
            "--port",
            "0",
            "--tls-port",
            str(primary_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *tls_args(tls_files),
        ],
    )
    sentinel_dir = tmp_path / "tls-sentinel"
    sentinel_dir.mkdir()
    conf = sentinel_dir / "sentinel.conf"
    conf.write_text(
        "\n".join(
            [
                "port 0",
                f"tls-port {sentinel_port}",
                "bind 127.0.0.1",
                f"dir {sentinel_dir}",
                f"tls-cert-file {tls_files['cert']}",
                f"tls-key-file {tls_files['key']}",
                f"tls-ca-cert-file {tls_files['ca']}",
                "tls-auth-clients no",
                "tls-replication yes",
                f"sentinel monitor tlsvc 127.0.0.1 {primary_port} 1",
            ]
        )
        + "\n"
    )
    sentinel = Node("tls-sentinel", sentinel_port, sentinel_dir, [str(conf), "--sentinel"])
    url = f"rediss+sentinel://127.0.0.1:{sentinel_port}/tlsvc/0?ssl_ca_certs={tls_files['ca']}"
    try:
        start(primary, f"rediss://127.0.0.1:{primary_port}/0?ssl_ca_certs={tls_files['ca']}")
        sentinel.start_process()
        client = connection.connect(url, environ={})
        wait_until(client.ping, 15, "no primary through the TLS sentinel")

        client.set("through", "sentinel")

        assert client.get("through") == b"sentinel"
        assert client.connection_pool.get_master_address() == ("127.0.0.1", primary_port)
    finally:
        sentinel.stop()
        primary.stop()
