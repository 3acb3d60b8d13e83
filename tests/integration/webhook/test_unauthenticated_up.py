"""A responder without tokens on loopback (``responder up``) cannot be driven by a web page.

A page in the operator's browser can post to 127.0.0.1 (CSRF) or rebind its own name to
127.0.0.1 (DNS rebinding); alerts run playbooks with the operator's kubeconfig and the API
pauses automation, so both must change nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import guards as safety
from responder.up import free_port
from responder.webhook.app import create_app
from responder.webhook.guard import served
from tests.helpers import alert, body, queued

BIND = "127.0.0.1:8080"
JSON = "application/json"


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime, bind=BIND).test_client()


# --- the rules, through the app -----------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_webhook_post_that_is_not_json_is_415_and_nothing_is_queued(
    client: FlaskClient, runtime: Runtime, content_type: str | None
) -> None:
    headers = {"Host": BIND} | ({"Content-Type": content_type} if content_type else {})

    response = client.post("/webhook/alertmanager", data=body(alert("APIQuotaExhaustion")), headers=headers)

    assert response.status_code == 415
    assert response.get_json() == {"error": "send Content-Type: application/json (Alertmanager does)"}
    assert queued(runtime) == 0


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "LOCALHOST:8080"])
def test_a_json_post_naming_the_served_address_is_accepted(client: FlaskClient, host: str) -> None:
    response = client.post(
        "/webhook/alertmanager",
        data=body(alert("APIQuotaExhaustion")),
        headers={"Host": host, "Content-Type": "application/json; charset=utf-8"},
    )

    assert response.get_json() == {"accepted": 1, "duplicates": 0}


@pytest.mark.parametrize(
    "host",
    ["attacker.example:8080", "127.0.0.1.nip.io:8080", "127.0.0.1:9999", "localhost", "127.0.0.1:8080@x"],
)
def test_a_request_for_another_host_name_is_421(client: FlaskClient, runtime: Runtime, host: str) -> None:
    # DNS rebinding: the page's own name now resolves to 127.0.0.1, so the browser sends its Host.
    posted = client.post(
        "/webhook/alertmanager",
        data=body(alert("APIQuotaExhaustion")),
        headers={"Host": host},
        content_type=JSON,
    )
    read = client.get("/api/flags", headers={"Host": host})

    assert (posted.status_code, read.status_code) == (421, 421)
    assert posted.get_json()["error"].startswith(
        "the Host header must name the address this responder serves (127.0.0.1:8080)"
    )
    assert queued(runtime) == 0


def test_slack_through_a_tunnel_is_not_refused_for_its_host(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slack reaches a laptop's `responder up` only through a tunnel with its own name; the endpoint
    # acts on signed bodies alone, so the Host rule would add nothing there but breakage.
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "tunnel-secret")

    response = client.post(
        "/slack/interactions", data=b"payload=%7B%7D", headers={"Host": "abc.tunnel.example"}
    )

    assert response.status_code == 401
    assert response.get_json()["error"] == "missing X-Slack-Signature or X-Slack-Request-Timestamp"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://attacker.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost:8080"},  # another origin, even on this machine
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_site_pause_is_403_and_automation_keeps_running(
    client: FlaskClient, runtime: Runtime, headers: dict[str, str]
) -> None:
    response = client.post("/api/automation/pause", headers={"Host": BIND, **headers})

    assert response.status_code == 403
    assert response.get_json()["error"].startswith("cross-site request refused")
    assert not safety.is_paused(runtime.redis, runtime.keys)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "http://127.0.0.1:8080"}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}],
)
def test_a_same_origin_or_non_browser_pause_works(
    client: FlaskClient, runtime: Runtime, headers: dict[str, str]
) -> None:
    response = client.post("/api/automation/pause", headers={"Host": BIND, **headers})

    assert response.get_json() == {"automation": "paused", "paging": "on"}
    assert safety.is_paused(runtime.redis, runtime.keys)


def test_with_both_tokens_set_no_host_or_origin_rule_applies(runtime: Runtime) -> None:
    # Behind a proxy the Host is the proxy's; with tokens a page cannot forge a request anyway.
    client = create_app(runtime, webhook_token="w", api_token="a", bind=BIND).test_client()

    response = client.post(
        "/api/automation/pause",
        headers={"Host": "responder.example.com", "Origin": "https://x.example", "Authorization": "Bearer a"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("bind", "accepted", "refused"),
    [
        ("127.0.0.1:8080", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"], ["10.0.0.1:8080", "a.b:8080"]),
        ("[::1]:9000", ["[::1]:9000", "localhost:9000"], ["[::1]:8080", "[::2]:9000"]),
        ("0.0.0.0:8080", ["10.1.2.3:8080", "[fe80::1]:8080", "localhost:8080"], ["rebind.example:8080"]),
        ("127.0.0.1:80", ["127.0.0.1", "localhost:80"], ["127.0.0.1:8080"]),
    ],
)
def test_the_served_address_follows_the_bind(bind: str, accepted: list[str], refused: list[str]) -> None:
    address = served(bind)
    assert address is not None

    assert [h for h in accepted if not address.accepts(h)] == []
    assert [h for h in refused if address.accepts(h)] == []


# --- a real `responder up` ----------------------------------------------------------------------


@pytest.fixture
def up(runtime: Runtime, redis_url: str, config_dir: Path, tmp_path: Path) -> Iterator[str]:
    """``responder up`` without tokens on loopback, on the test Redis and key prefix."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RESPONDER_WEBHOOK_TOKEN", "RESPONDER_API_TOKEN")}
    env.update(REDIS_URL=redis_url, RESPONDER_KEY_PREFIX=runtime.keys.prefix)
    process = subprocess.Popen(
        [sys.executable, "-m", "responder", "up", "--config", str(config_dir), "--bind", f"127.0.0.1:{port}"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_a_page_cannot_post_alerts_or_pause_a_real_responder_up(up: str, runtime: Runtime) -> None:
    sent = body(alert("APIQuotaExhaustion"))
    # What a page's fetch(..., {mode: "no-cors"}) or a form can send: no JSON type, its own Origin.
    simple = requests.post(
        up + "/webhook/alertmanager",
        data=sent,
        headers={"Content-Type": "text/plain", "Origin": "https://attacker.example"},
        timeout=5,
    )
    pause = requests.post(
        up + "/api/automation/pause",
        headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
        timeout=5,
    )
    rebound = requests.post(
        up + "/webhook/alertmanager",
        data=sent,
        headers={"Host": "attacker.example:" + up.rsplit(":", 1)[1], "Content-Type": JSON},
        timeout=5,
    )

    assert (simple.status_code, pause.status_code, rebound.status_code) == (403, 403, 421)
    assert requests.get(up + "/api/automation", timeout=5).json() == {"automation": "running"}
    assert requests.get(up + "/api/incidents", timeout=5).json() == {"incidents": []}

    # The operator's own curl still works.
    ok = requests.post(up + "/webhook/alertmanager", data=sent, headers={"Content-Type": JSON}, timeout=5)
    assert ok.json() == {"accepted": 1, "duplicates": 0}
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline and not requests.get(up + "/api/incidents", timeout=5).json()["incidents"]
    ):
        time.sleep(0.2)
    [incident] = requests.get(up + "/api/incidents", timeout=5).json()["incidents"]
    assert incident["rule"] == "api_quota_exhaustion"
    assert incident["status"] == "triggered"
