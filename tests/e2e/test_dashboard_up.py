"""The README's walkthrough in a browser: ``responder up``, Alertmanager fires, the incident appears on
the dashboard by itself, the on-call engineer acknowledges it there, the alert resolves, and the
report shows the incident with its MTTA and MTTR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser import launch
from tests.e2e.conftest import API_TOKEN, Alertmanager, Responder
from tests.helpers import eventually

pytestmark = pytest.mark.e2e

NO_SAMPLE = "\u2013"
"""What the report page shows for a figure without a sample (an en dash)."""


def test_an_alert_appears_on_the_dashboard_and_is_acknowledged_there(
    alertmanager: Alertmanager, responder_up: Responder
) -> None:
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(responder_up.url + "/")
            page.get_by_label("Name").fill("erin")
            page.get_by_label("API token").fill(API_TOKEN)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("No incidents.")).to_be_visible()

            started = datetime.now(UTC) - timedelta(minutes=1)
            firing = {
                "labels": {"alertname": "APIQuotaExhaustion", "severity": "critical"},
                "annotations": {"summary": "API quota near exhaustion"},
                "startsAt": started.isoformat(),
            }
            alertmanager.push([firing])
            link = page.get_by_role("link", name="APIQuotaExhaustion")
            # Alertmanager's group_wait, the worker, then the list's next 5-second refresh.
            expect(link).to_be_visible(timeout=60_000)
            link.click()
            page.get_by_role("button", name="Acknowledge").click()
            expect(page.get_by_role("status")).to_have_text("Acknowledged: escalation stopped.")

            # `up` serves with two gunicorn workers: the session holds whichever answers.
            for _ in range(6):
                page.reload()
                expect(page.get_by_role("row").filter(has_text="acknowledged by erin")).to_be_visible()

            # The alert clears: Alertmanager sends the resolution, the incident resolves.
            alertmanager.push([{**firing, "endsAt": datetime.now(UTC).isoformat()}])
            eventually(
                lambda: responder_up.api("/api/incidents").json()["incidents"][0]["status"] == "resolved"
            )
            page.get_by_role("link", name="Report").click()
            expect(page.get_by_role("heading", name="Report", level=1)).to_be_visible()
            figures = page.locator("dl.facts")
            expect(figures).to_contain_text("1 opened")
            expect(figures).to_contain_text("1 acknowledged")
            expect(figures).to_contain_text("1 resolved")
            expect(figures.locator("dd").nth(1)).to_contain_text("median")  # MTTA, with a value
            expect(figures.locator("dd").nth(1)).not_to_contain_text(NO_SAMPLE)
            expect(figures.locator("dd").nth(2)).not_to_contain_text(NO_SAMPLE)  # MTTR
        finally:
            browser.close()

    [incident] = responder_up.api("/api/incidents").json()["incidents"]
    assert (incident["status"], incident["acknowledged_by"]) == ("resolved", "erin")
    assert incident["resolved_by"] == "alertmanager"
