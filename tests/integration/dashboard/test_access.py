"""Who may use the dashboard: login with the API token, the session cookie, the trusted proxy header,
and the loopback guard of an unauthenticated ``responder up`` (Flask's test client)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from responder.runtime import Runtime
from responder.store import guards
from responder.webhook.app import create_app
from tests.helpers import incident_of, open_incident, timeline_of
from tests.integration.dashboard.support import TOKEN, csrf, csrf_of, log_in


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]


def test_without_a_session_every_page_leads_to_the_login(token_client: FlaskClient) -> None:
    for path in ("/ui/", "/ui/flags", "/ui/automation", "/ui/config", "/ui/incidents/0123456789ab"):
        response = token_client.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/ui/login?next="), path

    login = token_client.get("/ui/login")
    assert login.status_code == 200
    assert "<h1>Sign in</h1>" in text(login)


def test_the_refresh_of_a_logged_out_list_loads_the_login_page_instead_of_swapping_it_in(
    token_client: FlaskClient,
) -> None:
    response = token_client.get("/ui/", headers={"HX-Request": "true", "HX-Target": "incident-rows"})

    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith("/ui/login")
    assert text(response) == ""


def test_login_with_the_token_names_the_user_of_the_session(
    token_client: FlaskClient, runtime: Runtime
) -> None:
    incident_id, _ = open_incident(token_client, runtime, "APIQuotaExhaustion")
    log_in(token_client, "  alice\x07 ")

    page = token_client.get(f"/ui/incidents/{incident_id}")
    token_client.post(f"/ui/incidents/{incident_id}/ack", data={"csrf_token": csrf(token_client)})

    assert page.status_code == 200
    assert incident_of(runtime, incident_id)["acknowledged_by"] == "alice"
    assert timeline_of(runtime, incident_id)[-1]["message"] == "acknowledged by alice"


def test_login_goes_on_to_the_page_asked_for_but_never_to_another_site(token_client: FlaskClient) -> None:
    def land(next_url: str) -> str:
        form = token_client.get("/ui/login", query_string={"next": next_url})
        token = csrf(token_client, "/ui/login")
        response = token_client.post(
            "/ui/login", data={"name": "alice", "token": TOKEN, "csrf_token": token, "next": next_url}
        )
        token_client.post("/ui/logout", data={"csrf_token": csrf(token_client)})
        assert form.status_code == 200
        return response.headers["Location"]

    assert land("/ui/flags?x=1") == "/ui/flags?x=1"
    assert land("//evil.example/ui/") == "/ui/"
    assert land("https://evil.example/") == "/ui/"
    assert land("/ui/\\evil.example") == "/ui/"


def test_a_wrong_token_or_no_name_is_refused_and_the_token_is_never_echoed(token_client: FlaskClient) -> None:
    token = csrf(token_client, "/ui/login")

    wrong = token_client.post("/ui/login", data={"name": "mallory", "token": "not-it", "csrf_token": token})
    nameless = token_client.post("/ui/login", data={"name": " ", "token": TOKEN, "csrf_token": token})

    assert wrong.status_code == 401
    assert "Wrong token" in text(wrong)
    assert "not-it" not in text(wrong)
    assert nameless.status_code == 400
    assert TOKEN not in text(nameless)
    assert token_client.get("/ui/").status_code == 303  # still not logged in


def test_a_login_post_without_the_csrf_token_is_refused(token_client: FlaskClient) -> None:
    token_client.get("/ui/login")

    response = token_client.post("/ui/login", data={"name": "alice", "token": TOKEN})

    assert response.status_code == 403
    assert token_client.get("/ui/").status_code == 303


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_only_over_https(
    make_app: Callable[..., Flask],
) -> None:
    def cookie_of(base_url: str) -> str:
        client = make_app(api_token=TOKEN).test_client()
        client.get("/ui/login", base_url=base_url)
        token = csrf(client, "/ui/login")
        response = client.post(
            "/ui/login", data={"name": "alice", "token": TOKEN, "csrf_token": token}, base_url=base_url
        )
        return response.headers["Set-Cookie"]

    plain, tls = cookie_of("http://localhost"), cookie_of("https://localhost")

    for cookie in (plain, tls):
        assert cookie.startswith("responder_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert TOKEN not in cookie
    assert "Secure" not in plain
    assert "Secure" in tls


def test_logout_ends_the_session(token_client: FlaskClient) -> None:
    log_in(token_client, "alice")

    response = token_client.post("/ui/logout", data={"csrf_token": csrf(token_client)})

    assert response.status_code == 303
    assert token_client.get("/ui/").status_code == 303


def test_a_new_api_token_ends_every_session(make_app: Callable[..., Flask]) -> None:
    before = make_app(api_token=TOKEN).test_client()
    log_in(before, "alice")
    cookie = before.get_cookie("responder_session")
    assert cookie is not None

    after = make_app(api_token="a-rotated-token").test_client()  # same secret key, new token
    after.set_cookie("responder_session", cookie.value)

    assert before.get("/ui/").status_code == 200
    assert after.get("/ui/").status_code == 303


def test_a_session_signed_with_another_key_is_not_a_session(
    runtime: Runtime, make_app: Callable[..., Flask]
) -> None:
    ours = make_app(api_token=TOKEN).test_client()
    log_in(ours, "alice")
    cookie = ours.get_cookie("responder_session")
    assert cookie is not None

    other = create_app(runtime, api_token=TOKEN, secret_key="another-key").test_client()
    other.set_cookie("responder_session", cookie.value)

    assert other.get("/ui/").status_code == 303


# -- the trusted proxy header --------------------------------------------------------------------------


@pytest.fixture
def proxied(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(api_token=TOKEN, trusted_header="X-Forwarded-User").test_client()


def test_the_trusted_header_names_the_user_without_a_login(proxied: FlaskClient, runtime: Runtime) -> None:
    incident_id, _ = open_incident(proxied, runtime, "APIQuotaExhaustion")
    who = {"X-Forwarded-User": "bob@example.com"}

    page = proxied.get("/ui/", headers=who)
    token = csrf_of(text(page))
    proxied.post(f"/ui/incidents/{incident_id}/ack", data={"csrf_token": token}, headers=who)

    assert page.status_code == 200
    assert "bob@example.com" in text(page)
    assert "Sign out" not in text(page)  # the proxy owns the sign-in
    assert incident_of(runtime, incident_id)["acknowledged_by"] == "bob@example.com"


def test_without_the_trusted_header_comes_the_login_page(
    proxied: FlaskClient, make_app: Callable[..., Flask]
) -> None:
    response = proxied.get("/ui/", follow_redirects=True)
    proxy_only = make_app(trusted_header="X-Forwarded-User").test_client().get("/ui/login")

    assert "<h1>Sign in</h1>" in text(response)
    assert "header\n     <code>X-Forwarded-User</code>" in text(response)
    assert proxy_only.status_code == 401
    assert 'name="token"' not in text(proxy_only)  # no API token: the proxy is the only way in


def test_with_the_trusted_header_a_post_still_needs_the_csrf_token(
    proxied: FlaskClient, runtime: Runtime
) -> None:
    incident_id, _ = open_incident(proxied, runtime, "APIQuotaExhaustion")

    response = proxied.post(f"/ui/incidents/{incident_id}/ack", headers={"X-Forwarded-User": "bob"})

    assert response.status_code == 403
    assert incident_of(runtime, incident_id)["status"] == "triggered"


# -- an unauthenticated responder up on loopback --------------------------------------------------------

BIND = "127.0.0.1:8080"


@pytest.fixture
def up_client(make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("USER", "carol")
    return make_app(bind=BIND).test_client()


def test_on_loopback_without_tokens_the_dashboard_needs_no_login(up_client: FlaskClient) -> None:
    page = up_client.get("/ui/", headers={"Host": BIND})

    assert page.status_code == 200
    assert ">carol</span>" in text(page)


def test_the_loopback_guard_holds_for_the_dashboard(up_client: FlaskClient, runtime: Runtime) -> None:
    token = csrf_of(text(up_client.get("/ui/automation", headers={"Host": BIND})))

    rebound = up_client.get("/ui/", headers={"Host": "attacker.example:8080"})
    cross_site = up_client.post(
        "/ui/automation/pause",
        data={"csrf_token": token},
        headers={"Host": BIND, "Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"},
    )
    same_site = up_client.post(
        "/ui/automation/resume",
        data={"csrf_token": token},
        headers={"Host": BIND, "Origin": f"http://{BIND}", "Sec-Fetch-Site": "same-origin"},
    )

    assert rebound.status_code == 421
    assert cross_site.status_code == 403
    assert not guards.is_paused(runtime.redis, runtime.keys)
    assert same_site.status_code == 303
