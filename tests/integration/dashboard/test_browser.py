"""The dashboard in a real browser: Debian's chromium, headless, driven by Playwright, against the app
served by a real HTTP server; jobs run on a real RQ worker (``drain``)."""

from __future__ import annotations

import re
from collections.abc import Callable

import requests
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from pytest_httpserver import HTTPServer

from responder.runtime import Runtime
from responder.store import guards
from tests.helpers import alert, body, drain, incident_of, incidents_of
from tests.integration.dashboard.support import TOKEN, Served

API = {"Authorization": f"Bearer {TOKEN}"}


def post_alert(served: Served, name: str, **labels: str) -> None:
    response = requests.post(
        served.url + "/webhook/alertmanager",
        data=body(alert(name, **labels)),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.json() == {"accepted": 1, "duplicates": 0}


def sign_in(page: Page, served: Served, name: str) -> None:
    page.goto(served.url + "/ui/")
    expect(page).to_have_title("Sign in · alert-responder")
    page.get_by_label("Name").fill(name)
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(served.url + "/ui/")


def test_login_with_name_and_token_lands_on_the_incident_list(
    page: Page, make_app: Callable[..., Flask], serve: Callable[[Flask], Served]
) -> None:
    served = serve(make_app(api_token=TOKEN))

    page.goto(served.url + "/ui/flags")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Name").fill("alice")
    page.get_by_label("API token").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong token: use RESPONDER_API_TOKEN.")

    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(served.url + "/ui/flags")  # where it was going
    expect(page.get_by_role("heading", name="Flags", exact=True)).to_be_visible()
    expect(page.get_by_text("alice", exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(served.url + "/ui/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_list_refreshes_by_itself_when_an_alert_arrives(
    page: Page, runtime: Runtime, make_app: Callable[..., Flask], serve: Callable[[Flask], Served]
) -> None:
    served = serve(make_app())
    page.goto(served.url + "/ui/")
    expect(page.get_by_text("No incidents.")).to_be_visible()
    page.evaluate("window.loadedOnce = true")  # gone if the page reloaded instead of refreshing

    post_alert(served, "APIQuotaExhaustion")
    drain(runtime)
    [incident] = incidents_of(runtime)

    row = page.locator(f'tr[data-incident="{incident["id"]}"]')
    expect(row.get_by_role("link", name="APIQuotaExhaustion")).to_be_visible(timeout=20_000)
    expect(row).to_contain_text("critical")
    expect(row).to_contain_text("triggered")
    expect(row).to_contain_text("api_quota_exhaustion")
    assert page.evaluate("window.loadedOnce") is True


def test_acknowledge_from_the_incident_page(
    page: Page, runtime: Runtime, make_app: Callable[..., Flask], serve: Callable[[Flask], Served]
) -> None:
    served = serve(make_app(api_token=TOKEN))
    post_alert(served, "APIQuotaExhaustion")
    drain(runtime)
    [incident] = incidents_of(runtime)
    sign_in(page, served, "alice")

    page.get_by_role("link", name="APIQuotaExhaustion").click()
    expect(page).to_have_url(served.url + f"/ui/incidents/{incident['id']}")
    page.get_by_role("button", name="Acknowledge").click()

    expect(page.get_by_role("status")).to_have_text("Acknowledged: escalation stopped.")
    timeline = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Event"))
    expect(timeline.get_by_role("row").filter(has_text="acknowledged by alice")).to_be_visible()
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    api = requests.get(served.url + f"/api/incidents/{incident['id']}", headers=API, timeout=10).json()
    assert (api["status"], api["acknowledged_by"]) == ("acknowledged", "alice")


def test_approve_a_waiting_step_from_the_incident_page(
    approval_config: object,
    page: Page,
    runtime: Runtime,
    make_app: Callable[..., Flask],
    serve: Callable[[Flask], Served],
) -> None:
    served = serve(make_app(api_token=TOKEN))
    post_alert(served, "Careful")
    drain(runtime)
    [incident] = incidents_of(runtime)
    sign_in(page, served, "alice")
    page.goto(served.url + f"/ui/incidents/{incident['id']}")
    expect(page.get_by_text("awaiting approval").first).to_be_visible()

    page.get_by_role("button", name="Approve step 1").click()
    expect(page.get_by_role("status")).to_have_text("Approved step 1 of careful_flag: it runs now.")
    drain(runtime)
    page.reload()

    step = page.get_by_role("listitem").filter(has_text="flags.set")
    expect(step).to_contain_text("ok")
    expect(step).to_contain_text("approved by alice")
    expect(page.get_by_role("row").filter(has_text="careful_flag step 1 approved by alice")).to_be_visible()
    flags = requests.get(served.url + "/api/flags", headers=API, timeout=10).json()
    assert flags["retryAttempts"] == 7


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    page: Page, runtime: Runtime, make_app: Callable[..., Flask], serve: Callable[[Flask], Served]
) -> None:
    served = serve(make_app(api_token=TOKEN))
    post_alert(served, "APIQuotaExhaustion")
    drain(runtime)
    [incident] = incidents_of(runtime)
    sign_in(page, served, "alice")

    # The browser's own session cookie goes along; only the token is missing or wrong.
    missing = page.request.post(served.url + f"/ui/incidents/{incident['id']}/ack", form={})
    wrong = page.request.post(served.url + "/ui/automation/pause", form={"csrf_token": "x" * 43})

    assert (missing.status, wrong.status) == (403, 403)
    assert "security token is missing or stale" in missing.text()
    assert incident_of(runtime, incident["id"])["status"] == "triggered"
    assert not guards.is_paused(runtime.redis, runtime.keys)


def test_a_form_on_another_site_cannot_press_a_button(
    page: Page,
    runtime: Runtime,
    make_app: Callable[..., Flask],
    serve: Callable[[Flask], Served],
    httpserver: HTTPServer,
) -> None:
    served = serve(make_app(api_token=TOKEN))
    post_alert(served, "APIQuotaExhaustion")
    drain(runtime)
    [incident] = incidents_of(runtime)
    sign_in(page, served, "alice")
    target = served.url + f"/ui/incidents/{incident['id']}/ack"
    httpserver.expect_request("/evil").respond_with_data(
        f'<form method="post" action="{target}"><input name="csrf_token" value="guess"></form>'
        "<script>document.forms[0].submit()</script>",
        content_type="text/html",
    )

    page.goto(httpserver.url_for("/evil").replace("127.0.0.1", "localhost"))  # another site

    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    assert incident_of(runtime, incident["id"])["status"] == "triggered"


def test_trusted_header_mode_names_the_user_and_needs_no_login(
    browser: Browser, runtime: Runtime, make_app: Callable[..., Flask], serve: Callable[[Flask], Served]
) -> None:
    served = serve(make_app(api_token=TOKEN, trusted_header="X-Forwarded-User"))
    post_alert(served, "APIQuotaExhaustion")
    drain(runtime)
    [incident] = incidents_of(runtime)
    proxied = browser.new_context(extra_http_headers={"X-Forwarded-User": "bob@example.com"})
    direct = browser.new_context()
    try:
        page = proxied.new_page()
        page.goto(served.url + f"/ui/incidents/{incident['id']}")
        expect(page.get_by_text("bob@example.com", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_role("row").filter(has_text="acknowledged by bob@example.com")).to_be_visible()

        other = direct.new_page()
        other.goto(served.url + "/ui/")
        expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(other.get_by_text("X-Forwarded-User")).to_be_visible()
    finally:
        proxied.close()
        direct.close()
    assert incident_of(runtime, incident["id"])["acknowledged_by"] == "bob@example.com"


def test_every_page_has_its_title_heading_navigation_and_buttons(
    page: Page, runtime: Runtime, make_app: Callable[..., Flask], serve: Callable[[Flask], Served]
) -> None:
    served = serve(make_app(api_token=TOKEN))
    post_alert(served, "APIQuotaExhaustion")
    drain(runtime)
    sign_in(page, served, "alice")
    nav = page.get_by_role("navigation", name="Dashboard")

    expect(page).to_have_title("Incidents · alert-responder")
    expect(page.get_by_role("heading", level=1)).to_have_text("Incidents")
    expect(page.get_by_role("search", name="Filter incidents")).to_be_visible()
    for label in ("Status", "Severity", "Rule"):
        expect(page.get_by_role("combobox", name=label)).to_be_visible()
    expect(page.get_by_role("button", name="Filter")).to_be_visible()
    for name in ("Incidents", "Flags", "Automation", "Config"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()

    page.get_by_role("link", name="APIQuotaExhaustion").click()
    expect(page).to_have_title("APIQuotaExhaustion (triggered) · alert-responder")
    expect(page.get_by_role("heading", level=1)).to_contain_text("APIQuotaExhaustion")
    for heading in ("Alerts", "Playbook runs", "Timeline"):
        expect(page.get_by_role("heading", name=re.compile(f"^{heading}"), level=2)).to_be_visible()
    actions = page.get_by_role("group", name="Incident actions")
    for button in ("Acknowledge", "Resolve", "Silence 1h"):
        expect(actions.get_by_role("button", name=button)).to_be_visible()
    expect(page.get_by_role("link", name="graph")).to_have_attribute(
        "href", "http://prometheus:9090/graph?g0.expr=up"
    )

    nav.get_by_role("link", name="Flags").click()
    expect(page).to_have_title("Flags · alert-responder")
    expect(page.get_by_role("heading", level=1)).to_have_text("Flags")
    expect(page.get_by_role("heading", name="Rate-limit profile")).to_be_visible()
    expect(page.get_by_role("heading", name="Current flags")).to_be_visible()

    nav.get_by_role("link", name="Automation").click()
    expect(page).to_have_title("Automation · alert-responder")
    expect(page.get_by_role("heading", level=1)).to_have_text("Automation")
    page.get_by_role("button", name="Pause automation").click()
    expect(page.get_by_role("button", name="Resume automation")).to_be_visible()
    assert guards.is_paused(runtime.redis, runtime.keys)

    nav.get_by_role("link", name="Config").click()
    expect(page).to_have_title("Config · alert-responder")
    expect(page.get_by_role("heading", name=re.compile("^Rules"))).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Playbooks"))).to_be_visible()
    expect(page.get_by_role("cell", name="api_quota_exhaustion", exact=True)).to_be_visible()


def test_pages_work_with_javascript_off(
    browser: Browser, runtime: Runtime, make_app: Callable[..., Flask], serve: Callable[[Flask], Served]
) -> None:
    served = serve(make_app(api_token=TOKEN))
    post_alert(served, "APIQuotaExhaustion")
    drain(runtime)
    [incident] = incidents_of(runtime)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, served, "dana")
        page.get_by_role("link", name="APIQuotaExhaustion").click()
        page.get_by_role("button", name="Resolve").click()
        expect(page.get_by_role("status")).to_have_text("Resolved.")
        expect(
            page.get_by_role("row").filter(has_text="resolved by dana (from the dashboard)")
        ).to_be_visible()
    finally:
        context.close()
    assert incident_of(runtime, incident["id"])["resolved_by"] == "dana"


def test_a_button_pressed_after_the_session_ended_shows_the_refusal(
    page: Page, runtime: Runtime, make_app: Callable[..., Flask], serve: Callable[[Flask], Served]
) -> None:
    served = serve(make_app(api_token=TOKEN))
    post_alert(served, "APIQuotaExhaustion")
    drain(runtime)
    [incident] = incidents_of(runtime)
    sign_in(page, served, "alice")
    page.goto(served.url + f"/ui/incidents/{incident['id']}")

    page.context.clear_cookies()  # the session ended (signed out in another tab, cookie expired)
    page.get_by_role("button", name="Acknowledge").click()

    # htmx sent the form; its 403 answer is shown, not swallowed.
    expect(page.get_by_role("heading", name="Refused")).to_be_visible()
    expect(page.get_by_text("Reload the page and try again.")).to_be_visible()
    assert incident_of(runtime, incident["id"])["status"] == "triggered"
