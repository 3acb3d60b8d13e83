"""The flapping brake (docs/playbooks.md, Flapping): one alert firing and resolving over and over.

The rule verifies with ``page: on_failure``: while it acts, fixed opens page nobody; the
open beyond ``safety.flapping`` (the default, 3 per 1h) runs no playbook and pages level
1 at once all the same. Each open is a new alert (a new startsAt), as Prometheus sends
when an alert fires again after resolving; the clock is the runtime's moving clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import incidents as store
from tests.fakes.paging import Paging
from tests.helpers import advance, alert, events, incident_of, levels, payload

RULE = """
- name: flappy
  matchers: ['alertname = "Flappy"']
  severity: critical
  playbooks: [flap_fix]
  verify: {after: 2m, page: on_failure}
  notify: [slack, email, pagerduty]
  escalation: {after: 10m}
  group_by: [alertname]
"""
PLAYBOOK = "name: flap_fix\nsteps:\n  - action: flags.set\n    with: {flag: retryAttempts, value: 4}\n"
EVERY = 600.0


@pytest.fixture
def flappy(paging: Paging, config_dir: Path) -> Paging:
    """The paging config plus rule ``flappy`` under the default brake (request it before ``runtime``)."""
    (config_dir / "rules" / "30-flappy.yaml").write_text(RULE)
    (config_dir / "playbooks" / "flap_fix.yaml").write_text(PLAYBOOK)
    return paging


def flap(client: FlaskClient, runtime: Runtime, n: int, *, resolve: bool = True) -> tuple[str, float]:
    """The ``n``-th firing of the alert (then its resolution); the incident it opened and when."""
    fired = alert("Flappy", fingerprint="fpflappy0001", starts_at=f"2026-11-28T10:{n:02d}:00Z")
    before = {i.id for i in store.listing(runtime.redis, runtime.keys)}
    assert client.post("/webhook/alertmanager", data=json.dumps(payload(fired))).status_code == 200
    advance(runtime, 0)
    [incident] = [i for i in store.listing(runtime.redis, runtime.keys) if i.id not in before]
    if resolve:
        resolved = {**fired, "status": "resolved", "endsAt": f"2026-11-28T10:{n:02d}:30Z"}
        assert client.post("/webhook/alertmanager", data=json.dumps(payload(resolved))).status_code == 200
        advance(runtime, 0)
    return incident.id, incident.created_at


def ran(runtime: Runtime, incident_id: str) -> list[str]:
    return [e["details"]["playbook"] for e in events(runtime, incident_id, "playbook.started")]


def test_the_open_beyond_the_limit_runs_no_playbook_and_pages_at_once_until_a_quiet_hour(
    flappy: Paging, runtime: Runtime, paged_client: FlaskClient
) -> None:
    opened: list[tuple[str, float]] = []
    for n in range(1, 4):
        opened.append(flap(paged_client, runtime, n))
        advance(runtime, EVERY)
    for incident_id, _ in opened:
        assert ran(runtime, incident_id) == ["flap_fix"]
        assert incident_of(runtime, incident_id)["status"] == "resolved"
        assert levels(runtime, incident_id) == []  # fixed each time: nobody paged (page: on_failure)

    fourth, at = flap(paged_client, runtime, 4, resolve=False)

    assert ran(runtime, fourth) == []
    [suspended] = events(runtime, fourth, "automation.suspended")
    history = [*(store.get(runtime.redis, runtime.keys, i).created_at for i, _ in opened), at]
    assert suspended["details"]["max_opens"] == 3 and suspended["details"]["per"] == "1h"
    assert len(suspended["details"]["opens"]) == 4
    assert suspended["message"].startswith(
        "automation suspended: the incident key is flapping (opened 4 times within 1h (limit 3)): "
        "playbooks not run (flap_fix); level 1 is paged at once. Opens within 1h: "
    )
    assert [round(t) for t in history] == [round(at - 3 * EVERY + k * EVERY) for k in range(4)]
    [(level, paged_at)] = levels(runtime, fourth)
    assert level == 1 and paged_at == pytest.approx(at, abs=1e-3)  # at once, even with page: on_failure
    assert flappy.reached("dev-team") == {"slack": 1, "email": 1, "pagerduty": 1}
    assert incident_of(runtime, fourth)["flapping"] is True
    assert events(runtime, fourth, "verify.waiting") == []  # nothing runs, nothing to verify

    page = paged_client.get("/ui/").get_data(as_text=True)
    row = page[page.index(f'data-incident="{fourth}"') :]
    assert '<span class="marker marker-flapping"' in row[: row.index("</tr>")]
    report: dict[str, Any] = paged_client.get("/api/report?since=1d").get_json()
    [rule] = [r for r in report["rules"] if r["name"] == "flappy"]
    assert rule["flapping"] == 1

    # 45 minutes on, only two opens are left in the sliding hour, under the limit: but less than an
    # hour passed since the flapping open, so it is still flapping.
    paged_client.post(f"/api/incidents/{fourth}/resolve", json={"by": "carol"})
    advance(runtime, 2700)
    fifth, _ = flap(paged_client, runtime, 5)
    assert ran(runtime, fifth) == []
    assert "still flapping" in events(runtime, fifth, "automation.suspended")[0]["message"]

    advance(runtime, 3600)  # a quiet hour: no open at all
    sixth, _ = flap(paged_client, runtime, 6)

    assert ran(runtime, sixth) == ["flap_fix"]
    assert events(runtime, sixth, "automation.suspended") == []
    assert incident_of(runtime, sixth).get("flapping") is None
