"""The Alertmanager side shipped in alertmanager/: its config passes Alertmanager's own checker, it
routes the heartbeat often enough, and the Prometheus rules carry the Watchdog."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from responder.config.durations import parse_duration
from responder.runtime import load

ROOT = Path(__file__).resolve().parents[3]


def test_amtool_accepts_the_alertmanager_config() -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool is missing: it comes with Debian's prometheus-alertmanager (.ci/run installs it)"
    done = subprocess.run(
        [amtool, "check-config", str(ROOT / "alertmanager" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_watchdog_fires_always_and_is_resent_well_within_missing_after(tmp_path: Path) -> None:
    rules = yaml.safe_load((ROOT / "alertmanager" / "prometheus-rules.yaml").read_text())
    [watchdog] = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "Watchdog"]
    assert watchdog["expr"] == "vector(1)"
    config = yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text())
    [route] = [r for r in config["route"]["routes"] if 'alertname = "Watchdog"' in r["matchers"]]

    # The heartbeat section shipped commented out in responder.yaml, turned on: it loads, and
    # Alertmanager re-sends the Watchdog at least twice within its missing_after.
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    text = (ROOT / "responder.yaml").read_text()
    block = text[text.index("# heartbeat:") :]
    enabled = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    (tmp_path / "responder.yaml").write_text(text[: text.index("# heartbeat:")] + enabled + "\n")
    heartbeat = load(tmp_path).responder.heartbeat
    assert heartbeat is not None and heartbeat.matchers == ['alertname = "Watchdog"']
    assert 2 * parse_duration(route["repeat_interval"]) <= heartbeat.missing_after
