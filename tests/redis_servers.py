"""Real ``redis-server`` processes for the HA tests and the failover benchmark.

A plain server with its append-only file, a primary with a replica, and a Sentinel set
(one primary, one replica, three ``redis-server --sentinel``), each on free loopback
ports with a private data directory, started in its own session so that killing one
touches nothing else on this shared machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from responder.up import free_port

SERVICE = "responder-ha"
DOWN_AFTER_MS = 1000
"""Sentinel's down-after-milliseconds: a primary silent this long is down (production: 5000-30000)."""


def binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    return found


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(RedisError):
            value = check()
            if value:
                return value
        time.sleep(0.05)
    raise RuntimeError(f"{what} within {timeout} s")


@dataclass
class Node:
    """One redis-server (or sentinel) process on a fixed port, restartable on its data directory."""

    name: str
    port: int
    directory: Path
    args: list[str]
    password: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        """Start the process and wait until it answers a PING."""
        self.start_process()
        wait_until(self.client(0.2).ping, 15, f"{self.name} on port {self.port} did not answer")
        return self

    def start_process(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary(), *self.args],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def client(self, timeout: float = 1.0) -> Redis:
        return Redis(
            port=self.port, password=self.password, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as when the machine or the container dies."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self, lines: int = 30) -> str:
        path = self.directory / "redis.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def server(
    name: str, directory: Path, *extra: str, port: int | None = None, password: str | None = None
) -> Node:
    """A redis-server with AOF (``appendfsync everysec``, as production runs it), not yet started."""
    port = port or free_port()
    if password:
        extra = (*extra, "--requirepass", password, "--masterauth", password)
    args = [
        "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory / name),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--daemonize", "no", "--logfile", "redis.log",
        "--repl-diskless-sync-delay", "0",  # a replica syncs at once, not after 5 s
        "--shutdown-timeout", "0",  # stopping a primary does not wait for its replicas
        *extra,
    ]  # fmt: skip
    return Node(name, port, directory / name, args, password)


@dataclass
class Replicated:
    """A primary and one replica of it."""

    primary: Node
    replica: Node

    @classmethod
    def start(cls, directory: Path) -> Replicated:
        started: list[Node] = []
        try:
            primary = _started(started, server("primary", directory))
            replica = _started(
                started, server("replica", directory, "--replicaof", "127.0.0.1", str(primary.port))
            )
            _synced(replica, primary)
        except BaseException:
            for node in started:
                node.stop()
            raise
        return cls(primary, replica)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.primary.port}/0"

    def stop(self) -> None:
        for node in (self.replica, self.primary):
            node.stop()


@dataclass
class SentinelSet:
    """One primary, one replica, three sentinels watching them as :data:`SERVICE`."""

    nodes: list[Node]
    sentinels: list[Node]
    password: str | None = None
    """The Redis nodes' password (in the URL)."""
    killed: list[Node] = field(default_factory=list)

    @classmethod
    def start(
        cls, directory: Path, *, password: str | None = None, sentinel_password: str | None = None
    ) -> SentinelSet:
        started: list[Node] = []
        try:
            primary = _started(started, server("node-a", directory, password=password))
            replica = _started(
                started,
                server("node-b", directory, "--replicaof", "127.0.0.1", str(primary.port), password=password),
            )
            _synced(replica, primary)
            sentinels = [
                _started(
                    started, _sentinel(directory / f"sentinel-{i}", primary, password, sentinel_password)
                )
                for i in range(3)
            ]
            for sentinel in sentinels:  # each knows the replica and the two other sentinels
                client = sentinel.client()
                wait_until(
                    lambda c=client: len(c.sentinel_slaves(SERVICE)) == 1, 20, "a sentinel missed a replica"
                )
                wait_until(
                    lambda c=client: len(c.sentinel_sentinels(SERVICE)) == 2, 20, "sentinels did not meet"
                )
        except BaseException:
            for node in started:
                node.stop()
            raise
        return cls([primary, replica], sentinels, password)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        auth = f":{self.password}@" if self.password else ""
        return f"redis+sentinel://{auth}{hosts}/{SERVICE}/0"

    def primary_port(self) -> int:
        for sentinel in self.sentinels:
            with contextlib.suppress(RedisError):
                _, port = sentinel.client().sentinel_get_master_addr_by_name(SERVICE)
                return int(port)
        raise RuntimeError("no sentinel answers")

    def primary(self) -> Node:
        port = self.primary_port()
        return next(node for node in self.nodes if node.port == port)

    def kill_primary(self) -> Node:
        """SIGKILL the current primary; returns it."""
        node = self.primary()
        node.kill()
        self.killed.append(node)
        return node

    def wait_failover(self, old: Node, timeout: float = 30) -> Node:
        """Wait until every sentinel names a new primary that accepts writes; returns it."""

        def promoted() -> Node | None:
            ports = {int(s.client().sentinel_get_master_addr_by_name(SERVICE)[1]) for s in self.sentinels}
            if len(ports) != 1 or old.port in ports:
                return None
            node = next(n for n in self.nodes if n.port in ports)
            return node if node.client().execute_command("ROLE")[0] == b"master" else None

        return wait_until(promoted, timeout, "no failover")  # type: ignore[no-any-return]

    def stop(self) -> None:
        for node in [*self.sentinels, *self.nodes]:
            node.stop()


def _started(started: list[Node], node: Node) -> Node:
    started.append(node)
    return node.start()


def _synced(replica: Node, primary: Node) -> None:
    wait_until(
        lambda: replica.client().info("replication")["master_link_status"] == "up",
        15,
        f"{replica.name} did not sync with its primary",
    )
    # Just after a full sync a replica acknowledges writes only once a second for a while;
    # wait until it does at once, as a replica that has been up does (WAIT would time out).
    wait_until(lambda: _acknowledges(primary), 15, f"{replica.name} did not acknowledge writes at once")
    # Nor does it exit on SIGTERM while it writes its first append-only file after the sync.
    wait_until(
        lambda: (
            not any(
                replica.client().info("persistence")[k]
                for k in ("aof_rewrite_in_progress", "aof_rewrite_scheduled")
            )
        ),
        15,
        f"{replica.name} did not finish its first append-only file",
    )


def _acknowledges(primary: Node) -> bool:
    with primary.client().pipeline(transaction=False) as pipe:
        pipe.incr("redis-servers:probe")
        pipe.execute_command("WAIT", 1, 50)
        return bool(pipe.execute()[1] == 1)


def _sentinel(directory: Path, primary: Node, password: str | None, sentinel_password: str | None) -> Node:
    directory.mkdir(parents=True)
    port = free_port()
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {directory}",
        "logfile redis.log",
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 2",
        f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
        f"sentinel failover-timeout {SERVICE} 10000",
        f"sentinel parallel-syncs {SERVICE} 1",
    ]
    if password:
        lines.append(f"sentinel auth-pass {SERVICE} {password}")
    if sentinel_password:  # clients must authenticate, and the sentinels to each other
        lines += [f"requirepass {sentinel_password}", f"sentinel sentinel-pass {sentinel_password}"]
    (directory / "sentinel.conf").write_text("\n".join(lines) + "\n")
    args = [str(directory / "sentinel.conf"), "--sentinel"]
    return Node(directory.name, port, directory, args, sentinel_password)
