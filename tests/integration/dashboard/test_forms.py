"""The dashboard without JavaScript: plain links, plain form posts and 303 redirects (Flask's test client)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from responder.config.loader import LoadedConfig
from responder.runtime import Runtime
from responder.store import guards
from responder.store import incidents as store
from responder.store import keys as keys_mod
from responder.store.records import IncidentStatus
from responder.up import free_port
from responder.webhook.app import create_app
from tests.alertmanager import RealAlertmanager
from tests.helpers import advance, alert, body, incident_of, open_incident, timeline_of
from tests.integration.dashboard.support import csrf, csrf_of


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]


def test_the_root_redirects_to_the_dashboard(open_client: FlaskClient) -> None:
    response = open_client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/"


def test_the_list_shows_incidents_newest_first_with_their_severity(
    open_client: FlaskClient, runtime: Runtime
) -> None:
    older, _ = open_incident(open_client, runtime, "APIQuotaExhaustion")
    advance(runtime, 60)
    newer, _ = open_incident(open_client, runtime, "Templated", severity="low", note="x")

    page = text(open_client.get("/ui/"))

    assert page.index(f"/ui/incidents/{newer}") < page.index(f"/ui/incidents/{older}")
    assert f'class="sev-critical st-triggered" data-incident="{older}"' in page
    assert f'class="sev-low st-triggered" data-incident="{newer}"' in page
    assert "1 min ago" in page  # the older one, on the runtime's clock


def test_filters_narrow_the_list_and_unknown_values_are_ignored(
    open_client: FlaskClient, runtime: Runtime
) -> None:
    critical, _ = open_incident(open_client, runtime, "APIQuotaExhaustion")
    low, _ = open_incident(open_client, runtime, "Templated", severity="low", note="x")

    by_severity = text(open_client.get("/ui/?severity=low"))
    by_rule = text(open_client.get("/ui/?rule=api_quota_exhaustion"))
    nonsense = text(open_client.get("/ui/?severity=apocalyptic&status=<b>"))

    assert low in by_severity and critical not in by_severity
    assert critical in by_rule and low not in by_rule
    assert critical in nonsense and low in nonsense
    assert "<b>" not in nonsense


def test_the_refresh_answers_only_the_rows(open_client: FlaskClient, runtime: Runtime) -> None:
    incident_id, _ = open_incident(open_client, runtime, "APIQuotaExhaustion")

    rows = text(
        open_client.get("/ui/?status=open", headers={"HX-Request": "true", "HX-Target": "incident-rows"})
    )

    assert rows.lstrip().startswith('<tbody id="incident-rows"')
    assert 'hx-get="/ui/?status=open"' in rows  # the next refresh keeps the filter
    assert incident_id in rows
    assert "<html" not in rows


@pytest.mark.parametrize(
    "path",
    [
        "/ui/incidents/0123456789ab",  # well-formed, unknown
        "/ui/incidents/0123456789AB",
        "/ui/incidents/0123456789abc",
        "/ui/incidents/xyz",
        "/ui/incidents/%00",
        "/ui/incidents/..%2f..%2fetc",
        "/ui/nothing-here",
        "/ui/runs/0123456789abcdef",
    ],
)
def test_a_bad_or_unknown_address_is_an_html_404(open_client: FlaskClient, path: str) -> None:
    response = open_client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<h1>Not found</h1>" in text(response)


@pytest.mark.parametrize(
    "path",
    [
        "/ui/incidents/0123456789ab/ack",
        "/ui/incidents/NOT-AN-ID/resolve",
        "/ui/incidents/0123456789ab/silence",
        "/ui/runs/0123456789abcdef/steps/0/approve",
        "/ui/runs/zz/steps/0/approve",
    ],
)
def test_a_button_for_an_unknown_incident_or_run_is_404(open_client: FlaskClient, path: str) -> None:
    response = open_client.post(path, data={"csrf_token": csrf(open_client)})

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in text(response)


def test_acknowledge_and_resolve_by_form_record_the_user(open_client: FlaskClient, runtime: Runtime) -> None:
    incident_id, _ = open_incident(open_client, runtime, "APIQuotaExhaustion")
    token = csrf(open_client, f"/ui/incidents/{incident_id}")

    acked = open_client.post(f"/ui/incidents/{incident_id}/ack", data={"csrf_token": token})
    page = text(open_client.get(acked.headers["Location"]))

    assert acked.status_code == 303
    assert acked.headers["Location"] == f"/ui/incidents/{incident_id}"
    assert "Acknowledged: escalation stopped." in page
    assert incident_of(runtime, incident_id)["acknowledged_by"] == "carol"
    assert ">Acknowledge</button>" not in page  # acknowledged: only Resolve and Silence are left

    resolved = open_client.post(f"/ui/incidents/{incident_id}/resolve", data={"csrf_token": token})

    assert resolved.status_code == 303
    assert incident_of(runtime, incident_id)["status"] == "resolved"
    [entry] = [e for e in timeline_of(runtime, incident_id) if e["kind"] == "incident.resolved"]
    assert entry["message"] == "resolved by carol (from the dashboard)"
    assert entry["details"] == {"by": "carol"}


def test_a_second_acknowledge_changes_nothing_and_says_so(open_client: FlaskClient, runtime: Runtime) -> None:
    incident_id, _ = open_incident(open_client, runtime, "APIQuotaExhaustion")
    token = csrf(open_client)
    open_client.post(f"/ui/incidents/{incident_id}/ack", data={"csrf_token": token})

    again = open_client.post(
        f"/ui/incidents/{incident_id}/ack", data={"csrf_token": token}, follow_redirects=True
    )

    assert "Already acknowledged or resolved." in text(again)
    assert [e["kind"] for e in timeline_of(runtime, incident_id)].count("incident.acknowledged") == 1


def test_approve_by_form_runs_the_waiting_step(
    approval_config: object, runtime: Runtime, open_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(open_client, runtime, "Careful")
    page = text(open_client.get(f"/ui/incidents/{incident_id}"))
    [run_id] = [
        e["details"]["run"] for e in timeline_of(runtime, incident_id) if e["kind"] == "playbook.started"
    ]

    assert "awaiting approval" in page
    assert f'action="/ui/runs/{run_id}/steps/0/approve"' in page

    response = open_client.post(f"/ui/runs/{run_id}/steps/0/approve", data={"csrf_token": csrf_of(page)})
    advance(runtime, 0)
    after = text(open_client.get(response.headers["Location"]))

    assert response.status_code == 303
    assert "approved by carol" in after
    assert runtime.redis.hget(runtime.keys.flags, "retryAttempts") == b"7"
    assert "Approve step 1" not in after


@pytest.fixture
def confirm_config(config_dir: Path) -> Path:
    """Rule ``confirmed`` (alert ``Confirm``) waits for a Run click; request it before ``runtime``."""
    (config_dir / "playbooks" / "confirm_flag.yaml").write_text(
        "name: confirm_flag\nsteps:\n  - action: flags.set\n    with: {flag: retryAttempts, value: 9}\n"
    )
    (config_dir / "rules" / "20-confirm.yaml").write_text(
        "- name: confirmed\n  matchers: ['alertname = \"Confirm\"']\n  playbooks: [confirm_flag]\n"
        "  automation: confirm\n"
    )
    return config_dir


def test_the_run_button_starts_a_run_waiting_for_confirmation(
    confirm_config: Path, runtime: Runtime, open_client: FlaskClient
) -> None:
    incident_id, _ = open_incident(open_client, runtime, "Confirm")
    page = text(open_client.get(f"/ui/incidents/{incident_id}"))
    [run_id] = [
        e["details"]["run"] for e in timeline_of(runtime, incident_id) if e["kind"] == "playbook.started"
    ]

    assert runtime.redis.hget(runtime.keys.flags, "retryAttempts") == b"3"
    assert f'action="/ui/runs/{run_id}/steps/0/approve"' in page
    assert ">Run confirm_flag</button>" in page
    assert "Approve step 1" not in page  # a Run click, not a step approval

    response = open_client.post(f"/ui/runs/{run_id}/steps/0/approve", data={"csrf_token": csrf_of(page)})
    advance(runtime, 0)
    after = text(open_client.get(response.headers["Location"]))

    assert response.status_code == 303
    assert "Confirmed: confirm_flag runs now." in after
    assert f"playbook confirm_flag (run {run_id}) confirmed by carol: it runs now" in after
    assert runtime.redis.hget(runtime.keys.flags, "retryAttempts") == b"9"
    assert ">Run confirm_flag</button>" not in after


def test_pause_and_resume_by_form(open_client: FlaskClient, runtime: Runtime) -> None:
    token = csrf(open_client, "/ui/automation")

    paused = open_client.post("/ui/automation/pause", data={"csrf_token": token}, follow_redirects=True)

    assert guards.is_paused(runtime.redis, runtime.keys)
    assert "Automation paused" in text(paused)
    assert ">Resume automation</button>" in text(paused)

    open_client.post("/ui/automation/resume", data={"csrf_token": token})

    assert not guards.is_paused(runtime.redis, runtime.keys)


def test_a_post_without_the_csrf_token_is_403_and_changes_nothing(
    open_client: FlaskClient, runtime: Runtime
) -> None:
    incident_id, _ = open_incident(open_client, runtime, "APIQuotaExhaustion")
    csrf(open_client)  # the session exists and has a token: the request just does not send it

    missing = open_client.post(f"/ui/incidents/{incident_id}/ack")
    wrong = open_client.post(f"/ui/incidents/{incident_id}/resolve", data={"csrf_token": "guess"})
    pause = open_client.post("/ui/automation/pause", headers={"X-CSRF-Token": ""})

    assert [missing.status_code, wrong.status_code, pause.status_code] == [403, 403, 403]
    assert "security token is missing or stale" in text(missing)
    assert incident_of(runtime, incident_id)["status"] == "triggered"
    assert not guards.is_paused(runtime.redis, runtime.keys)


def test_an_alert_field_is_shown_as_text_and_only_http_links_are_links(
    open_client: FlaskClient, runtime: Runtime
) -> None:
    hostile = alert("APIQuotaExhaustion", note="<script>alert(1)</script>")
    hostile["generatorURL"] = "javascript:alert(document.cookie)"
    hostile["annotations"]["summary"] = '"><img src=x onerror=alert(1)>'
    open_client.post("/webhook/alertmanager", data=body(hostile), content_type="application/json")
    advance(runtime, 0)
    [incident] = store.listing(runtime.redis, runtime.keys)

    page = text(open_client.get(f"/ui/incidents/{incident.id}"))
    listing = text(open_client.get("/ui/"))

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<img src=x" not in listing
    assert 'href="javascript:' not in page


def test_every_page_forbids_framing_and_foreign_scripts(open_client: FlaskClient) -> None:
    for path in ("/ui/", "/ui/flags", "/ui/automation", "/ui/config", "/ui/incidents/0123456789ab"):
        response = open_client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], path
        assert response.headers["Cache-Control"] == "no-store", path


def test_pages_answer_503_when_redis_is_down(runtime: Runtime) -> None:
    down = Runtime(
        # Nothing listens there; no retries, so each page fails at once as with Redis gone for good.
        Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)),
        keys_mod.Keys("down"),
        runtime.config_dir,
        runtime.config,
    )
    client = create_app(down, secret_key="s").test_client()

    for path in ("/ui/", "/ui/flags", "/ui/automation", "/ui/incidents/0123456789ab"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "Redis is unreachable" in text(response)


def test_the_flags_page_says_who_changed_each_flag(open_client: FlaskClient, runtime: Runtime) -> None:
    incident_id, _ = open_incident(
        open_client, runtime, "APIQuotaExhaustion"
    )  # sets rateLimits, nonCritical…
    open_client.put("/api/flags/retryAttempts", data="9")

    page = text(open_client.get("/ui/flags"))
    rows = {
        name: page[page.index(f'<td class="mono">{name}</td>') :][:900]
        for name in ("rateLimits", "retryAttempts", "queueBasedProcessing")
    }

    assert f'for incident <a class="mono" href="/ui/incidents/{incident_id}">' in rows["rateLimits"]
    assert "by <b>automation</b>" in rows["rateLimits"]
    assert "by <b>api</b>" in rows["retryAttempts"]
    assert "never: as in responder.yaml" in rows["queueBasedProcessing"]
    assert 'Active: <b class="mono">conservative</b>' in page


def test_the_config_page_lists_rules_in_order_and_playbooks(
    open_client: FlaskClient, runtime: Runtime
) -> None:
    page = text(open_client.get("/ui/config"))
    config: LoadedConfig = runtime.config

    positions = [page.index(f'id="rule-{r.name}"') for r in config.rules]
    assert positions == sorted(positions)
    for name in config.playbooks:
        assert f'id="playbook-{name}"' in page
    assert "<div>alertname = &#34;APIQuotaExhaustion&#34;</div>" in page  # the matcher, escaped


def test_the_config_page_shows_a_rules_verification_and_automation_level(
    confirm_config: Path, runtime: Runtime, open_client: FlaskClient
) -> None:
    with (confirm_config / "rules" / "20-confirm.yaml").open("a") as rules:
        rules.write("  verify: {after: 3m, else: [careful]}\n")
    (confirm_config / "playbooks" / "careful.yaml").write_text(
        "name: careful\nsteps:\n  - action: flags.set\n    with: {flag: retryAttempts, value: 1}\n"
    )
    runtime.reload()

    page = text(open_client.get("/ui/config"))
    row = page[page.index('id="rule-confirmed"') :]
    row = row[: row.index("</tr>")]

    assert 'verified 3m after; else <a class="mono" href="#playbook-careful">careful</a>' in row
    assert '<b class="warn">automation: confirm</b>' in row


def test_the_automation_page_shows_the_budget_and_what_waits_in_each_lane(
    open_client: FlaskClient, runtime: Runtime
) -> None:
    open_incident(open_client, runtime, "APIQuotaExhaustion")  # two playbooks: 2 actions + 1 notify
    used = guards.budget_used(runtime.redis, runtime.keys, runtime.clock())
    for n in range(3):  # accepted, not yet applied: no worker runs
        sent = open_client.post(
            "/webhook/alertmanager", data=body(alert("Waiting", fingerprint=f"fp-wait-{n}"))
        )
        assert sent.status_code == 200

    page = text(open_client.get("/ui/automation"))
    metrics = open_client.get("/metrics").get_data(as_text=True)

    assert used > 0
    assert f"<b>{used}</b> of 100 actions used, <b>{100 - used}</b> left" in page
    # Three batches wait on the intake list (plus the one drain job queued for them).
    assert '<span class="mono">intake</span> <b>4</b>' in page
    assert '<span class="mono">control</span> <b>0</b>' in page
    assert 'responder_queue_depth{lane="intake"} 4.0' in metrics


def test_a_resolved_incident_offers_no_buttons(open_client: FlaskClient, runtime: Runtime) -> None:
    incident_id, _ = open_incident(open_client, runtime, "APIQuotaExhaustion")
    open_client.post(f"/api/incidents/{incident_id}/resolve", json={"by": "dave"})

    page = text(open_client.get(f"/ui/incidents/{incident_id}"))

    assert incident_of(runtime, incident_id)["status"] == IncidentStatus.RESOLVED
    assert "resolved by <b>dave</b>" in page
    for label in ("Acknowledge", "Resolve", "Silence 1h"):
        assert f">{label}</button>" not in page


def test_silence_by_form_queues_it_and_the_real_alertmanager_gets_it(
    open_client: FlaskClient, runtime: Runtime, alertmanager: RealAlertmanager
) -> None:
    incident_id, _ = open_incident(open_client, runtime, "APIQuotaExhaustion")

    response = open_client.post(
        f"/ui/incidents/{incident_id}/silence", data={"csrf_token": csrf(open_client)}, follow_redirects=True
    )
    advance(runtime, 0)  # a worker runs the job: it calls Alertmanager
    page = text(open_client.get(f"/ui/incidents/{incident_id}"))

    assert "Silence 1h requested" in text(response)
    [silence] = [
        s
        for s in requests.get(alertmanager.url + "/api/v2/silences", timeout=5).json()
        if s["status"]["state"] == "active"
    ]
    assert silence["comment"].startswith(f"carol via the dashboard: incident {incident_id}")
    assert f"silenced for 1h by carol: {silence['id']}" in page
    assert ">Silence 1h</button>" not in page
