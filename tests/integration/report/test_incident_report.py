"""The incident report from real incidents: opened by the webhook, acted on by real workers,
acknowledged and resolved on a clock the test moves, read back through ``/api/report``,
``/metrics`` and ``responder report``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from redis import Redis

from responder.cli import main
from responder.incidents import lifecycle
from responder.report.build import median_and_p90
from responder.report.text import render
from responder.runtime import Runtime
from responder.store.keys import Keys
from responder.webhook.app import create_app
from tests.helpers import advance, alert, body, drain, incidents_of

MINUTE = 60.0


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_app(runtime).test_client()


def incident_id(runtime: Runtime, rule: str) -> str:
    [found] = [i["id"] for i in incidents_of(runtime) if i["rule"] == rule]
    return str(found)


@pytest.fixture
def three_incidents(runtime: Runtime, client: FlaskClient, httpserver: HTTPServer) -> dict[str, str]:
    """An hour's work: one incident fixed by automation, one acknowledged by a person, one whose playbook
    failed and that a person resolved."""
    httpserver.expect_request("/fail", method="POST").respond_with_data("down", status=500)
    # Start a minute into an hour: the report counts whole hours, and this hour's incidents stay in it.
    advance(runtime, 3600 - runtime.clock() % 3600 + MINUTE)
    # The flaky playbook first: its retries move the clock on by a few seconds, so the other two
    # open at the same instant and their figures below are exact.
    client.post("/webhook/alertmanager", data=body(alert("Flaky", port=str(httpserver.port))))
    drain(runtime)
    for name in ("APIQuotaExhaustion", "Templated"):
        assert client.post("/webhook/alertmanager", data=body(alert(name))).status_code == 200
    drain(runtime)
    ids = {rule: incident_id(runtime, rule) for rule in ("api_quota_exhaustion", "templated", "flaky")}

    advance(runtime, 2 * MINUTE)
    lifecycle.acknowledge(runtime, ids["templated"], by="alice")
    advance(runtime, 8 * MINUTE)  # 10 min: the quota alert clears; automation fixed it
    client.post("/webhook/alertmanager", data=body(alert("APIQuotaExhaustion", status="resolved")))
    drain(runtime)
    advance(runtime, 10 * MINUTE)  # 20 min: the templated alert clears, after a person took it
    client.post("/webhook/alertmanager", data=body(alert("Templated", status="resolved")))
    advance(runtime, 10 * MINUTE)  # 30 min: someone resolves the flaky one by hand
    lifecycle.resolve(runtime, ids["flaky"], by="bob")
    drain(runtime)
    return ids


def report(client: FlaskClient, query: str = "since=1h") -> dict[str, Any]:
    response = client.get(f"/api/report?{query}")
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def test_mtta_mttr_and_what_automation_fixed(three_incidents: dict[str, str], client: FlaskClient) -> None:
    figures = report(client)

    assert figures["incidents"] == {"opened": 3, "acknowledged": 1, "resolved": 3, "auto_remediated": 1}
    assert figures["mtta_seconds"] == {"median": 2 * MINUTE, "p90": 2 * MINUTE}
    assert figures["mttr_seconds"]["median"] == 20 * MINUTE
    assert figures["mttr_seconds"]["p90"] == pytest.approx(30 * MINUTE, abs=10)  # the flaky one, opened first
    assert figures["auto_remediated_share"] == pytest.approx(1 / 3, abs=1e-4)
    rules = {r["name"]: r for r in figures["rules"]}
    quota = rules["api_quota_exhaustion"]
    # Two playbooks on open, one on_resolved: all completed, every step ok.
    assert (quota["incidents"], quota["runs"]) == (1, {"started": 3, "completed": 3, "failed": 0})
    assert quota["step_success_rate"] == 1.0
    flaky = rules["flaky"]
    assert flaky["runs"] == {"started": 1, "completed": 0, "failed": 1}
    assert flaky["step_success_rate"] == 0.0
    assert rules["slow"]["incidents"] == 0  # configured, quiet: still listed
    assert figures["teams"] == []  # the basic config pages nobody


def test_the_incident_api_says_which_were_auto_remediated(
    three_incidents: dict[str, str], client: FlaskClient
) -> None:
    shown = {rule: client.get(f"/api/incidents/{i}").get_json() for rule, i in three_incidents.items()}
    assert shown["api_quota_exhaustion"]["auto_remediated"] is True
    assert shown["templated"]["auto_remediated"] is False  # a person acknowledged it
    assert shown["flaky"]["auto_remediated"] is False  # its playbook failed and a person resolved it


def test_compare_sets_the_window_before_beside_it(
    three_incidents: dict[str, str], runtime: Runtime, client: FlaskClient
) -> None:
    advance(runtime, 60 * MINUTE)  # in the next hour: one more incident, acknowledged at once
    client.post("/webhook/alertmanager", data=body(alert("Slow", fingerprint="fp-slow")))
    drain(runtime)
    lifecycle.acknowledge(runtime, incident_id(runtime, "slow"), by="carol")

    figures = report(client, "since=1h&compare=1")

    assert figures["incidents"]["opened"] == 1
    assert figures["previous"]["incidents"]["opened"] == 3
    assert figures["change_percent"]["incidents.opened"] == pytest.approx(-66.7)
    assert figures["mtta_seconds"]["median"] == 0.0
    assert figures["change_percent"]["mtta_seconds.median"] == -100.0
    assert figures["change_percent"]["auto_remediated_share"] is None  # nothing resolved yet this hour


def test_metrics_carry_time_to_ack_and_resolve_histograms(
    three_incidents: dict[str, str], client: FlaskClient
) -> None:
    text = client.get("/metrics").get_data(as_text=True)

    assert 'responder_time_to_ack_seconds_bucket{le="120",rule="templated",severity="critical"} 1.0' in text
    assert 'responder_time_to_ack_seconds_bucket{le="60",rule="templated",severity="critical"} 0.0' in text
    assert 'responder_time_to_resolve_seconds_count{rule="flaky",severity="critical"} 1.0' in text
    assert 'responder_time_to_resolve_seconds_sum{rule="templated",severity="critical"} 1200.0' in text
    assert "responder_incidents_auto_remediated_total 1.0" in text


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("since=soon", "since: invalid duration"),
        ("since=0s", "since must be between"),
        ("since=400d", "between"),
    ],
)
def test_a_bad_window_is_a_400_that_says_why(client: FlaskClient, query: str, error: str) -> None:
    response = client.get(f"/api/report?{query}")
    assert response.status_code == 400
    assert error in response.get_json()["error"]


def test_the_cli_prints_the_report(three_incidents: dict[str, str], client: FlaskClient) -> None:
    text = render(report(client, "since=1h&compare=1"))

    assert "incidents opened: 3" in text
    assert "MTTA: median 2m" in text and "MTTR: median 20m" in text
    assert "auto-remediated: 1 of 3 resolved (33%)" in text
    assert re.search(r"^api_quota_exhaustion\s+1\s+3\s+0\s+100%", text, re.M)


def test_the_cli_says_where_it_failed_without_a_server() -> None:
    result = CliRunner().invoke(main, ["report", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the responder at http://127.0.0.1:9" in result.output


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [([], None, None), ([5.0], 5.0, 5.0), ([1.0, 3.0], 2.0, 3.0), ([1.0, 2.0, 3.0, 4.0, 100.0], 3.0, 100.0),
     ([float(i) for i in range(1, 11)], 5.5, 9.0)],
)  # fmt: skip
def test_median_and_p90_across_hourly_buckets(
    redis: Redis, keys: Keys, values: list[float], median: float | None, p90: float | None
) -> None:
    sources = [keys.report_hour(h) + ":tta" for h in range(3)]
    for n, value in enumerate(values):  # spread over three hours, as a window's samples are
        redis.zadd(sources[n % 3], {f"incident-{n}": value})

    assert median_and_p90(redis, keys, sources) == {"median": median, "p90": p90}
    assert not redis.exists(keys.report_scratch())
