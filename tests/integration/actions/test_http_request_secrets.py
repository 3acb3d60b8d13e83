"""``http.request`` and templates through real workers: where requests may go, what is sent,
and what reaches the timeline (status, size, hash; never a body, a header or a secret).

The admin APIs are pytest-httpserver sinks on 127.0.0.1, the only host the test config allows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer

from responder.runtime import Runtime
from responder.store import flags
from responder.webhook.app import create_app
from tests.helpers import alert, body, drain, incidents_of, timeline_of

TOKEN = "adm-7f3c9a1b2d4e"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

PLAYBOOKS = {
    "call_admin": """
name: call_admin
steps:
  - action: http.request
    with:
      method: POST
      url: "http://{{ alert.labels.host }}:{{ alert.labels.port }}/{{ alert.labels.path }}"
      headers: {Authorization: "Bearer {{ secret.ADMIN_TOKEN }}", X-Alert: "{{ alert.labels.alertname }}"}
      json: {cluster: "{{ env.CLUSTER }}"}
""",
    "dump_env": """
name: dump_env
steps:
  - action: flags.set
    with: {flag: nonCriticalProcessing, value: {env: "{{ env|tojson }}"}}
""",
    "bomb": """
name: bomb
steps:
  - action: flags.set
    with: {flag: retryAttempts, value: "{{ ('a' * 10**6)|length }}"}
""",
}
RULES = """
- name: call_admin
  matchers: ['alertname = "CallAdmin"']
  playbooks: [call_admin]
- name: call_admin_each
  matchers: ['alertname = "CallEach"']
  playbooks: [call_admin]
  group_by: [alertname, path]
- name: dump_env
  matchers: ['alertname = "DumpEnv"']
  playbooks: [dump_env]
- name: bomb
  matchers: ['alertname = "Bomb"']
  playbooks: [bomb]
"""


@pytest.fixture
def client(runtime: Runtime, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    for name, text in PLAYBOOKS.items():
        (config_dir / "playbooks" / f"{name}.yaml").write_text(text)
    (config_dir / "rules" / "20-security.yaml").write_text(RULES)
    with (config_dir / "responder.yaml").open("a") as main:
        main.write("templates:\n  env: [CLUSTER]\n")
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("CLUSTER", "eu-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    runtime.reload()
    yield create_app(runtime).test_client()


def fire(client: FlaskClient, runtime: Runtime, name: str, **labels: str) -> list[dict[str, Any]]:
    """Post one alert, run the workers until idle, return the incident's timeline."""
    response = client.post(
        "/webhook/alertmanager", data=body(alert(name, **labels)), content_type="application/json"
    )
    assert response.status_code == 200
    drain(runtime)
    [incident] = incidents_of(runtime)
    return timeline_of(runtime, incident["id"])


def step_events(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in timeline if e["kind"].startswith("step.")]


def test_the_secret_goes_in_the_header_and_the_timeline_gets_status_size_and_hash(
    client: FlaskClient, runtime: Runtime, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request(
        "/disable",
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "X-Alert": "CallAdmin"},
        json={"cluster": "eu-1"},
    ).respond_with_data(f"disabled; your token was {TOKEN}", status=200)

    timeline = fire(client, runtime, "CallAdmin", host="127.0.0.1", port=str(httpserver.port), path="disable")

    httpserver.check_assertions()
    answer = f"disabled; your token was {TOKEN}".encode()
    [done] = step_events(timeline)
    url = f"http://127.0.0.1:{httpserver.port}/disable"
    assert done["message"] == (
        f"call_admin step 1/1 (http.request): POST {url} answered 200 "
        f"({len(answer)} bytes, sha256 {hashlib.sha256(answer).hexdigest()})"
    )
    assert done["details"]["result"] == {
        "method": "POST",
        "url": url,
        "status": 200,
        "bytes": str(len(answer)),
        "sha256": hashlib.sha256(answer).hexdigest(),
    }
    assert TOKEN not in json.dumps(timeline)


def test_a_failing_answer_that_echoes_the_token_is_never_copied(
    client: FlaskClient, runtime: Runtime, httpserver: HTTPServer
) -> None:
    echo = f"401 Unauthorized: token {TOKEN} is expired"
    httpserver.expect_request("/disable", method="POST").respond_with_data(echo, status=401)

    timeline = fire(client, runtime, "CallAdmin", host="127.0.0.1", port=str(httpserver.port), path="disable")

    [failed] = [e for e in timeline if e["kind"] == "step.failed"]
    digest = hashlib.sha256(echo.encode()).hexdigest()
    assert failed["message"].endswith(f"answered 401 ({len(echo)} bytes, sha256 {digest})")
    assert TOKEN not in json.dumps(timeline)
    assert "expired" not in json.dumps(timeline)


def test_a_redirect_is_the_answer_and_is_not_followed(
    client: FlaskClient, runtime: Runtime, httpserver: HTTPServer
) -> None:
    elsewhere = HTTPServer(host="127.0.0.1", port=0)
    elsewhere.start()
    try:
        elsewhere.expect_request("/collect").respond_with_data("thanks")
        httpserver.expect_request("/disable", method="POST").respond_with_data(
            "", status=302, headers={"Location": elsewhere.url_for("/collect")}
        )

        timeline = fire(
            client, runtime, "CallAdmin", host="127.0.0.1", port=str(httpserver.port), path="disable"
        )

        assert elsewhere.log == []  # the Authorization header never went to the other server
    finally:
        elsewhere.clear()
        elsewhere.stop()
    [failed] = [e for e in timeline if e["kind"] == "step.failed"]
    assert (
        "answered 302 (0 bytes, sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)"
        in (failed["message"])
    )
    assert failed["message"].endswith(
        "redirects are not followed: call the final URL, or list the status in expect_status"
    )
    assert len(httpserver.log) == 1


def test_a_cookie_one_answer_sets_never_rides_along_on_the_next_step(
    client: FlaskClient, runtime: Runtime, httpserver: HTTPServer
) -> None:
    # Steps reuse a worker's connections to an API; they must not share what an answer sets.
    httpserver.expect_request("/first", method="POST").respond_with_data(
        "ok", headers={"Set-Cookie": "session=stolen-by-the-next-call; Path=/"}
    )
    httpserver.expect_request("/second", method="POST").respond_with_data("ok")

    for path in ("first", "second"):
        response = client.post(
            "/webhook/alertmanager",
            data=body(
                alert(
                    "CallEach", "firing", f"fp-{path}", host="127.0.0.1", port=str(httpserver.port), path=path
                )
            ),
            content_type="application/json",
        )
        assert response.status_code == 200
        drain(runtime)

    assert [request.path for request, _ in httpserver.log] == ["/first", "/second"]
    assert [request.headers.get("Cookie") for request, _ in httpserver.log] == [None, None]
    assert httpserver.log[1][0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_rendered_url_to_a_host_off_the_list_is_refused_and_nothing_is_sent(
    client: FlaskClient, runtime: Runtime, httpserver: HTTPServer
) -> None:
    # "localhost" reaches the very same sink, but it is not 127.0.0.1 in http.allowed_hosts.
    timeline = fire(client, runtime, "CallAdmin", host="localhost", port=str(httpserver.port), path="disable")

    assert httpserver.log == []
    [failed] = [e for e in timeline if e["kind"] == "step.failed"]
    assert failed["message"] == (
        f"call_admin step 1/1 (http.request) failed: refused: host localhost:{httpserver.port} is not in "
        "http.allowed_hosts (127.0.0.1); add it in responder.yaml to allow calls there; nothing was sent"
    )


def test_env_dumps_only_the_listed_variables(client: FlaskClient, runtime: Runtime) -> None:
    fire(client, runtime, "DumpEnv")

    dumped = flags.get(runtime.redis, runtime.keys, "nonCriticalProcessing")
    assert json.loads(dumped["env"]) == {"CLUSTER": "eu-1"}
    assert SIGNING_SECRET not in json.dumps(dumped)


def test_a_template_bomb_fails_the_step_naming_the_cap(client: FlaskClient, runtime: Runtime) -> None:
    timeline = fire(client, runtime, "Bomb")

    [failed] = [e for e in timeline if e["kind"] == "step.failed"]
    assert failed["message"] == (
        "bomb step 1/1 (flags.set) failed: template over a size cap: a repeated string or list would be "
        "1000000 long, over the cap of 100000 characters or items (sandbox.MAX_LENGTH)"
    )
    assert flags.get(runtime.redis, runtime.keys, "retryAttempts") == 3
