"""Email through smtplib against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import logging
import ssl
import traceback
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import trustme

from responder.config.models import Team
from responder.errors import NotifyError
from responder.notify.base import Kind, Message
from responder.notify.email import EmailChannel
from responder.store.records import Incident
from tests.fakes.notify_env import FAST_RETRY, PUBLIC_URL, SECRETS
from tests.fakes.smtp import SmtpServer

OPS = Team(email=["ops@example.com", "oncall@example.com"])


def message(incident: Incident, kind: Kind = "open", **kw: Any) -> Message:
    text = kw.pop("text", f"{kind} happened")
    url = f"{PUBLIC_URL}/api/incidents/{incident.id}"
    return Message(kind=kind, incident=incident, text=text, incident_url=url, **kw)


def channel(env: dict[str, str], **overrides: str) -> EmailChannel:
    return EmailChannel.from_env({**env, **overrides}, retry=FAST_RETRY)


def parts(received: Any) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in received.message.iter_parts()}


def test_first_email_is_multipart_text_and_html_with_the_incident_subject(
    smtp: SmtpServer, env: dict[str, str], incident: Incident
) -> None:
    delivery = channel(env).send(message(incident, text="Level 1: APIQuotaExhaustion"), "ops-team", OPS, None)

    [received] = smtp.received
    email = received.message
    assert received.mail_from == "responder@example.com"
    assert received.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    assert email["Subject"] == "[CRITICAL] api_quota_exhaustion: API quota at 97% <embedding-api> & rising"
    assert email["From"] == "Alert Responder <responder@example.com>"
    assert email["To"] == "ops@example.com, oncall@example.com"
    assert email["Message-ID"].startswith("<") and email["Message-ID"].endswith("@example.com>")
    assert email["In-Reply-To"] is None and email["References"] is None
    assert email["Auto-Submitted"] == "auto-generated"
    assert email.get_content_type() == "multipart/alternative"
    body = parts(received)
    assert set(body) == {"text/plain", "text/html"}
    assert "Level 1: APIQuotaExhaustion" in body["text/plain"]
    assert "Severity: CRITICAL" in body["text/plain"] and "alertname=APIQuotaExhaustion" in body["text/plain"]
    assert f"Incident: {PUBLIC_URL}/api/incidents/inc-20250101-0001" in body["text/plain"]
    assert "Alert source: http://prometheus.example.com/graph?g0.expr=quota_used%3E0.95" in body["text/plain"]
    assert "API quota at 97% &lt;embedding-api&gt; &amp; rising" in body["text/html"]
    assert f"<a href='{PUBLIC_URL}/api/incidents/inc-20250101-0001'>" in body["text/html"]
    assert (delivery.ref, delivery.target) == (email["Message-ID"], "ops@example.com, oncall@example.com")


def test_updates_thread_onto_the_first_email(
    smtp: SmtpServer, env: dict[str, str], incident: Incident
) -> None:
    ch = channel(env)
    first = ch.send(message(incident), "ops-team", OPS, None).ref
    ch.send(message(incident, "ack", by="alice", text="Acknowledged by alice"), "ops-team", OPS, first)
    ch.send(message(incident, "resolve", by="bob", text="Resolved by bob"), "ops-team", OPS, first)

    opened, acked, resolved = (r.message for r in smtp.received)
    for reply in (acked, resolved):
        assert reply["In-Reply-To"] == first and reply["References"] == first
        assert reply["Subject"] == f"Re: {opened['Subject']}"
        assert reply["Message-ID"] != first
    assert "Acknowledged by: alice" in parts(smtp.received[1])["text/plain"]
    assert "Status: resolved" in parts(smtp.received[2])["text/plain"]


def test_severity_is_in_the_subject(smtp: SmtpServer, env: dict[str, str], incident: Incident) -> None:
    channel(env).send(message(replace(incident, severity="medium")), "ops-team", OPS, None)
    assert smtp.received[0].message["Subject"].startswith("[MEDIUM] api_quota_exhaustion: ")


def test_a_temporary_4xx_is_retried_and_the_mail_delivered_once(
    smtp: SmtpServer, env: dict[str, str], incident: Incident
) -> None:
    smtp.handler.temporary_failures = 1
    channel(env).send(message(incident), "ops-team", OPS, None)
    assert smtp.handler.data_commands == 2
    assert len(smtp.received) == 1


def test_temporary_failures_give_up_after_the_bounded_attempts(
    smtp: SmtpServer, env: dict[str, str], incident: Incident
) -> None:
    smtp.handler.temporary_failures = 10
    with pytest.raises(NotifyError, match=r"still failing after 3 attempts: SMTP 451 4\.3\.0"):
        channel(env).send(message(incident), "ops-team", OPS, None)
    assert smtp.handler.data_commands == FAST_RETRY.attempts and smtp.received == []


def test_a_permanent_5xx_fails_at_once_with_the_servers_reply(
    smtp: SmtpServer, env: dict[str, str], incident: Incident
) -> None:
    smtp.handler.refuse = {
        "ops@example.com": "550 5.1.1 <ops@example.com>: Recipient address rejected",
        "oncall@example.com": "550 5.1.1 <oncall@example.com>: Recipient address rejected",
    }
    with pytest.raises(NotifyError, match=r"550 5\.1\.1 <ops@example\.com>: Recipient address rejected"):
        channel(env).send(message(incident), "ops-team", OPS, None)
    assert smtp.handler.data_commands == 0 and smtp.received == []


def test_one_refused_recipient_is_reported_while_the_others_get_the_mail(
    smtp: SmtpServer, env: dict[str, str], incident: Incident
) -> None:
    smtp.handler.refuse = {"oncall@example.com": "550 5.1.1 no such user"}
    delivery = channel(env).send(message(incident), "ops-team", OPS, None)
    assert smtp.received[0].rcpt_tos == ["ops@example.com"]
    assert delivery.detail == "refused: oncall@example.com: 550 5.1.1 no such user"


def test_an_unreachable_server_is_retried_then_fails(env: dict[str, str], incident: Incident) -> None:
    with pytest.raises(
        NotifyError, match=r"still failing after 3 attempts: 127\.0\.0\.1:9: ConnectionRefusedError"
    ):
        channel(env, SMTP_PORT="9").send(message(incident), "ops-team", OPS, None)


# The fake accepts AUTH without TLS on purpose (loopback only); aiosmtpd warns about exactly that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def auth_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(username="responder", password=SECRETS.smtp_password).start()
    yield server
    server.stop()


def test_login_with_username_and_password(
    auth_smtp: SmtpServer, env: dict[str, str], incident: Incident
) -> None:
    ch = channel(
        env, SMTP_PORT=str(auth_smtp.port), SMTP_USERNAME="responder", SMTP_PASSWORD=SECRETS.smtp_password
    )
    ch.send(message(incident), "ops-team", OPS, None)
    assert auth_smtp.logins == ["responder"] and len(auth_smtp.received) == 1


def test_a_wrong_password_fails_at_once_and_never_shows_the_password(
    auth_smtp: SmtpServer, env: dict[str, str], incident: Incident, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-TOPSECRET-password"
    ch = channel(env, SMTP_PORT=str(auth_smtp.port), SMTP_USERNAME="responder", SMTP_PASSWORD=wrong)
    with pytest.raises(NotifyError, match="535") as failure:
        ch.send(message(incident), "ops-team", OPS, None)
    shown = "".join(traceback.format_exception(failure.value))
    assert wrong not in shown and wrong not in caplog.text
    assert auth_smtp.received == []


@pytest.fixture
def tls_smtp(ca: trustme.CA) -> Iterator[SmtpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = SmtpServer(tls_context=context, require_starttls=True).start()
    yield server
    server.stop()


def test_starttls_trusts_the_ca_from_ssl_cert_file(
    tls_smtp: SmtpServer, env: dict[str, str], incident: Incident
) -> None:
    channel(env, SMTP_PORT=str(tls_smtp.port), SMTP_STARTTLS="true").send(
        message(incident), "ops-team", OPS, None
    )
    assert len(tls_smtp.received) == 1


def test_starttls_refuses_a_server_it_does_not_trust(
    tls_smtp: SmtpServer, env: dict[str, str], incident: Incident, tmp_path: Any
) -> None:
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    ch = channel(env, SMTP_PORT=str(tls_smtp.port), SMTP_STARTTLS="true", SSL_CERT_FILE=str(other_ca))
    with pytest.raises(NotifyError, match=r"TLS with 127\.0\.0\.1"):
        ch.send(message(incident), "ops-team", OPS, None)
    assert tls_smtp.received == []


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"SMTP_HOST": ""}, "SMTP_HOST is not set"),
        ({"EMAIL_FROM": ""}, "EMAIL_FROM is not set"),
        ({"SMTP_HOST": "", "EMAIL_FROM": ""}, "SMTP_HOST and EMAIL_FROM are not set"),
        ({"SMTP_USERNAME": "responder"}, "SMTP_USERNAME is set but SMTP_PASSWORD is not"),
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT is not a port number: 'smtp'"),
        ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS must be true or false, not 'maybe'"),
    ],
)
def test_configured_says_what_is_missing(
    env: dict[str, str], overrides: dict[str, str], missing: str
) -> None:
    assert channel(env, **overrides).configured() == missing
    assert channel(env).configured() is None
