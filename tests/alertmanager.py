"""The real Alertmanager binary on loopback, driven through its v2 API, for the integration tests.

Tests post alerts to it as Prometheus does (``POST /api/v2/alerts``), read back the
fingerprint it gives each one (the responder matches alerts by that fingerprint), and
resolve them by posting them again with an ``endsAt`` in the past.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from responder.up import free_port

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass
class RealAlertmanager:
    """One Alertmanager process with a do-nothing receiver (the tests post to the responder themselves)."""

    url: str
    process: subprocess.Popen[bytes]
    started: dict[str, str] = field(default_factory=dict)
    """``alertname`` -> the startsAt each alert was first posted with."""
    fingerprints: dict[str, str] = field(default_factory=dict)
    """``alertname`` -> the fingerprint Alertmanager gave it."""

    @classmethod
    def start(cls, directory: Path) -> RealAlertmanager:
        if BINARY is None:
            raise RuntimeError(
                "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
            )
        config = directory / "alertmanager.yml"
        config.write_text("route: {receiver: nowhere}\nreceivers: [{name: nowhere}]\n")
        port = free_port()
        process = subprocess.Popen(
            [BINARY, f"--config.file={config}", f"--storage.path={directory / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        am = cls(f"http://127.0.0.1:{port}", process)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(am.url + "/-/ready", timeout=1).status_code == 200:
                    return am
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                am.stop()
                raise RuntimeError("Alertmanager did not come up")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def fire(self, name: str, **labels: str) -> dict[str, Any]:
        """Post a firing alert, as Prometheus does; returns it as the responder's webhook would carry it
        (with Alertmanager's fingerprint and the same startsAt)."""
        # A minute back, so an endsAt a second ago (resolving it) is still after it.
        starts = self.started.setdefault(
            name, _iso(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
        )
        self._post(name, labels, starts, None)
        self.fingerprints[name] = self.fingerprint({"alertname": name, "severity": "critical", **labels})
        return self.webhook_alert(name, "firing", **labels)

    def resolve(self, name: str, **labels: str) -> dict[str, Any]:
        """Post the alert again with an ``endsAt`` in the past: Alertmanager holds it as resolved."""
        starts = self.started[name]
        self._post(name, labels, starts, _iso(datetime.now(UTC) - timedelta(seconds=1)))
        return self.webhook_alert(name, "resolved", **labels)

    def webhook_alert(self, name: str, status: str, **labels: str) -> dict[str, Any]:
        all_labels = {"alertname": name, "severity": "critical", **labels}
        return {
            "status": status,
            "labels": all_labels,
            "annotations": {"summary": f"{name} is happening"},
            "startsAt": self.started[name],
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else _iso(datetime.now(UTC)),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": self.fingerprints[name],
        }

    def fingerprint(self, labels: dict[str, str]) -> str:
        """The fingerprint Alertmanager gave the alert with exactly ``labels``."""
        for held in requests.get(self.url + "/api/v2/alerts", timeout=5).json():
            if held["labels"] == labels:
                return str(held["fingerprint"])
        raise AssertionError(f"Alertmanager holds no alert with labels {labels}")

    def firing(self) -> list[str]:
        """The alertnames Alertmanager holds as firing (not resolved)."""
        return sorted(
            a["labels"]["alertname"] for a in requests.get(self.url + "/api/v2/alerts", timeout=5).json()
        )

    def _post(self, name: str, labels: dict[str, str], starts: str, ends: str | None) -> None:
        alert: dict[str, Any] = {
            "labels": {"alertname": name, "severity": "critical", **labels},
            "annotations": {"summary": f"{name} is happening"},
            "startsAt": starts,
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        }
        if ends is not None:
            alert["endsAt"] = ends
        response = requests.post(self.url + "/api/v2/alerts", json=[alert], timeout=5)
        response.raise_for_status()
