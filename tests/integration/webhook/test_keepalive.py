"""An early answer (401 before the body is read) leaves a keep-alive connection usable.

Alertmanager and the CLI keep connections open; a refused request whose body stayed unread
used to make gunicorn drop the connection, so the next request on it failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from responder.runtime import Runtime
from responder.up import free_port
from tests.helpers import alert, payload

WEBHOOK_TOKEN = "keepalive-webhook-token"
API_TOKEN = "keepalive-api-token"


@pytest.fixture
def serve(runtime: Runtime, redis_url: str, config_dir: Path) -> Iterator[str]:
    """A real ``responder serve`` (gunicorn, one gthread worker) on the test Redis and prefix."""
    port = free_port()
    env = dict(
        os.environ,
        REDIS_URL=redis_url,
        RESPONDER_KEY_PREFIX=runtime.keys.prefix,
        RESPONDER_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        RESPONDER_API_TOKEN=API_TOKEN,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "responder",
            "serve",
            "--config",
            str(config_dir),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(url + "/health", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def big_body(index: int) -> bytes:
    sent = payload(alert("Unrouted", fingerprint=f"keepalive{index:04d}"))
    sent["commonAnnotations"] = {"description": "x" * 200_000}
    return json.dumps(sent).encode()


def test_a_wrong_token_does_not_break_the_next_request_on_the_connection(serve: str) -> None:
    session = requests.Session()  # keep-alive: every request below goes over one connection
    answers = []
    for index in range(10):
        data = big_body(index)
        try:
            refused = session.post(
                serve + "/webhook/alertmanager",
                data=data,
                headers={"Authorization": "Bearer wrong", "Content-Type": "application/json"},
                timeout=10,
            )
            accepted = session.post(
                serve + "/webhook/alertmanager",
                data=data,
                headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"},
                timeout=10,
            )
            answers.append((refused.status_code, accepted.status_code))
        except requests.ConnectionError as exc:
            answers.append((0, repr(exc)[:80]))

    assert answers == [(401, 200)] * 10


def test_an_api_call_refused_before_its_body_is_read_leaves_the_connection_usable(serve: str) -> None:
    session = requests.Session()
    results = []
    for _ in range(10):
        try:
            refused = session.put(serve + "/api/flags/retryAttempts", data=b"7" * 200_000, timeout=10)
            listed = session.get(
                serve + "/api/flags", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10
            )
            results.append((refused.status_code, listed.status_code))
        except requests.ConnectionError as exc:
            results.append((0, repr(exc)[:80]))

    assert results == [(401, 200)] * 10
