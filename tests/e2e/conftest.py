"""A running ``responder up`` and the real Alertmanager binary, both on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from responder.up import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
WEBHOOK_TOKEN = "e2e-webhook-token-5f2c"
API_TOKEN = "e2e-api-token-9a1d"


def wait_http(url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


@dataclass
class Responder:
    url: str
    process: subprocess.Popen[bytes]

    def api(self, path: str) -> requests.Response:
        return requests.get(self.url + path, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=5)


@pytest.fixture
def responder_up(config_dir: Path, tmp_path: Path) -> Iterator[Responder]:
    """``responder up`` exactly as the README runs it, with its own private redis-server."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RESPONDER_KEY_PREFIX")}
    env.update(RESPONDER_WEBHOOK_TOKEN=WEBHOOK_TOKEN, RESPONDER_API_TOKEN=API_TOKEN)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "responder",
            "up",
            "--config",
            str(config_dir),
            "--bind",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/ready", process=process)
        yield Responder(url, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Alertmanager:
    url: str

    def push(self, alerts: list[dict[str, object]]) -> None:
        response = requests.post(self.url + "/api/v2/alerts", json=alerts, timeout=5)
        response.raise_for_status()


@pytest.fixture
def alertmanager(responder_up: Responder, tmp_path: Path) -> Iterator[Alertmanager]:
    if ALERTMANAGER is None:
        pytest.fail(
            "prometheus-alertmanager is not installed: "
            ".ci/run installs it (apt-get install prometheus-alertmanager)"
        )
    token_file = tmp_path / "webhook-token"
    token_file.write_text(WEBHOOK_TOKEN)
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: responder
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: responder
    webhook_configs:
      - url: {responder_up.url}/webhook/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials_file: {token_file}
""")
    port = free_port()
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/-/ready", process=process)
        yield Alertmanager(url)
    finally:
        process.terminate()
        process.wait(15)
