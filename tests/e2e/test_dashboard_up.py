"""The README's walkthrough in a browser: ``responder up``, Alertmanager fires, the incident appears on
the dashboard by itself, and the on-call engineer acknowledges it there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser import launch
from tests.e2e.conftest import API_TOKEN, Alertmanager, Responder

pytestmark = pytest.mark.e2e


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

            alertmanager.push(
                [
                    {
                        "labels": {"alertname": "APIQuotaExhaustion", "severity": "critical"},
                        "annotations": {"summary": "API quota near exhaustion"},
                        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                    }
                ]
            )
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
        finally:
            browser.close()

    [incident] = responder_up.api("/api/incidents").json()["incidents"]
    assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", "erin")
