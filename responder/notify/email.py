"""Email: one thread per incident, text and HTML, over SMTP.

The first email's Message-ID is the ref; every later email about the incident carries
``In-Reply-To`` and ``References`` with it (and a ``Re:`` subject), so mail clients
show one thread per incident. Subject: ``[CRITICAL] <rule>: <summary>``.

Results: SMTP 4xx answers and dropped or refused connections are transient and
retried with backoff; a 5xx answer fails at once with the server's reply. The
password never appears in errors or logs.
"""

from __future__ import annotations

import email.policy
import html
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from responder.config.models import Team
from responder.errors import NotifyError
from responder.notify.base import (
    Confirmation,
    Delivery,
    Message,
    Retry,
    env_value,
    environ,
    redact,
    ssl_context,
    truncate,
)

log = logging.getLogger(__name__)

TIMEOUT = 10.0
"""Seconds per SMTP command; a stuck server must not hold a worker for long."""
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
POLICY = email.policy.default.clone(max_line_length=998)
"""RFC 5322's hard limit rather than the 78 default, whose folding of a long Subject right after
the colon leaves a leading space in some parsers."""
APPROVAL_HINT = "This step waits for approval: use the Approve button in the incident's Slack thread."


class _Transient(Exception):
    """An SMTP failure that another attempt may get past (4xx, connection trouble)."""


class EmailChannel:
    name = "email"

    def __init__(
        self,
        host: str | None,
        sender: str | None,
        *,
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        retry: Retry | None = None,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        problem: str | None = None,
    ) -> None:
        self.host = host
        self.sender = sender
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.retry = retry or Retry()
        self._env = environ(env)
        self._sleep = sleep
        self._problem = problem

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, retry: Retry | None = None) -> EmailChannel:
        env = environ(env)
        problem = None
        port_text = env_value(env, "SMTP_PORT") or "25"
        try:
            port = int(port_text)
        except ValueError:
            port, problem = 25, f"SMTP_PORT is not a port number: {port_text!r}"
        starttls_text = (env_value(env, "SMTP_STARTTLS") or "false").lower()
        if starttls_text not in TRUE + FALSE:
            problem = problem or f"SMTP_STARTTLS must be true or false, not {starttls_text!r}"
        return cls(
            env_value(env, "SMTP_HOST"),
            env_value(env, "EMAIL_FROM"),
            port=port,
            username=env_value(env, "SMTP_USERNAME"),
            password=env.get("SMTP_PASSWORD") or None,
            starttls=starttls_text in TRUE,
            retry=retry,
            env=env,
            problem=problem,
        )

    def configured(self) -> str | None:
        required = (("SMTP_HOST", self.host), ("EMAIL_FROM", self.sender))
        missing = [name for name, value in required if not value]
        if missing:
            return f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
        if self.username and not self.password:
            return "SMTP_USERNAME is set but SMTP_PASSWORD is not"
        return self._problem

    def secrets(self) -> list[str]:
        return [self.password] if self.password else []

    def target(self, team: str, config: Team) -> str | None:
        return ", ".join(config.email) or None

    def send(self, message: Message, team: str, config: Team, ref: str | None) -> Delivery:
        if not config.email:
            raise NotifyError(f"email: team {team} has no email addresses")
        target = ", ".join(config.email)
        mail = compose(message, self.sender or "", config.email, ref)
        refused = self._deliver_with_retries(mail, target)
        detail = ""
        if refused:
            detail = f"refused: {_replies(refused)}"
        return Delivery("email", target, str(mail["Message-ID"]), detail=redact(detail, self.secrets()))

    def send_text(self, recipients: list[str], subject: str, text: str) -> None:
        """A plain-text mail that belongs to no incident (the daily digest), with the usual retries.

        Raises:
            NotifyError: not configured, or the send failed for good.
        """
        missing = self.configured()
        if missing:
            raise NotifyError(f"email: {missing}")
        mail = EmailMessage(policy=POLICY)
        mail["From"] = self.sender or ""
        mail["To"] = ", ".join(recipients)
        mail["Subject"] = one_line(subject)
        mail["Date"] = format_datetime(datetime.now(UTC))
        domain = (self.sender or "").rpartition("@")[2].strip("> ") or "alert-responder.invalid"
        mail["Message-ID"] = make_msgid(idstring="digest", domain=domain)
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(text)
        self._deliver_with_retries(mail, ", ".join(recipients))

    def _deliver_with_retries(self, mail: EmailMessage, target: str) -> dict[str, tuple[int, bytes]]:
        waits = self.retry.waits()
        attempt = 1
        while True:
            try:
                return self._deliver(mail)
            except _Transient as exc:
                wait = next(waits, None)
                reason = redact(str(exc), self.secrets())
                if wait is None:
                    raise NotifyError(
                        f"email to {target}: still failing after {attempt} attempts: {reason}"
                    ) from None
                log.warning(
                    "email to %s: attempt %d failed (%s); retrying in %.1fs", target, attempt, reason, wait
                )
                self._sleep(wait)
                attempt += 1

    def _deliver(self, mail: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """One SMTP session. Raises _Transient for what a retry may fix, NotifyError for the rest."""
        secrets = self.secrets()
        host = self.host or ""
        try:
            smtp: smtplib.SMTP
            me = _hostname()
            if self.port == 465:  # implicit TLS (SMTPS) rather than STARTTLS
                tls = ssl_context(self._env)
                smtp = smtplib.SMTP_SSL(host, self.port, timeout=TIMEOUT, local_hostname=me, context=tls)
            else:
                smtp = smtplib.SMTP(host, self.port, timeout=TIMEOUT, local_hostname=me)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=ssl_context(self._env))
                if self.username:
                    smtp.login(self.username, self.password or "")
                return smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            text = f"SMTP server refused every recipient: {_replies(exc.recipients)}"
            if all(400 <= code < 500 for code, _ in exc.recipients.values()):
                raise _Transient(text) from None
            raise NotifyError(f"email: {redact(truncate(text), secrets)}") from None
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500 or exc.smtp_code < 0:
                raise _Transient(text) from None
            raise NotifyError(f"email: {self._where()} answered {redact(truncate(text), secrets)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise NotifyError(f"email: {self._where()} does not support {exc}; check SMTP_STARTTLS") from None
        except ssl.SSLError as exc:
            # Certificate and handshake failures do not fix themselves; say so at once.
            raise NotifyError(f"email: TLS with {self._where()} failed: {exc}; check SSL_CERT_FILE") from None
        except smtplib.SMTPServerDisconnected as exc:
            raise _Transient(f"{self._where()}: connection dropped: {exc}") from None
        except smtplib.SMTPException as exc:
            raise NotifyError(f"email: {self._where()}: {redact(truncate(str(exc)), secrets)}") from None
        except OSError as exc:
            # Refused, reset or timed out: the server may be restarting. (SMTPException is an
            # OSError too, hence this comes last.)
            raise _Transient(f"{self._where()}: {type(exc).__name__}: {exc}") from None

    def _where(self) -> str:
        return f"{self.host}:{self.port}"


def _replies(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in refused.items())


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _hostname() -> str:
    # smtplib would otherwise call socket.getfqdn(), which can stall on a DNS lookup.
    return socket.gethostname() or "localhost"


def compose(message: Message, sender: str, recipients: list[str], ref: str | None) -> EmailMessage:
    """The email for ``message``; ``ref`` (the first email's Message-ID) threads it."""
    mail = EmailMessage(policy=POLICY)
    subject = one_line(f"[{message.severity.upper()}] {message.rule or message.title}: {message.summary}")
    mail["Subject"] = truncate(f"Re: {subject}" if ref else subject, 200)
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = format_datetime(datetime.now(UTC))
    domain = sender.rpartition("@")[2].strip("> ") or "alert-responder.invalid"
    mail["Message-ID"] = make_msgid(idstring=f"incident.{message.incident_id}", domain=domain)
    if ref:
        mail["In-Reply-To"] = ref
        mail["References"] = ref
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to pages
    mail["X-Responder-Incident"] = one_line(message.incident_id)
    mail.set_content(text_body(message))
    mail.add_alternative(html_body(message), subtype="html")
    return mail


def one_line(text: str) -> str:
    return " ".join(text.split())


def facts(message: Message) -> list[tuple[str, str]]:
    rows = [
        ("Incident", message.incident_id),
        ("Rule", message.rule or "-"),
        ("Severity", message.severity.upper()),
        ("Status", message.status),
        ("Level", str(message.level)),
    ]
    if message.acknowledged_by:
        rows.append(("Acknowledged by", message.acknowledged_by))
    if message.resolved_by:
        rows.append(("Resolved by", message.resolved_by))
    return rows


def text_body(message: Message) -> str:
    lines = [message.text, "", message.summary, ""]
    lines += [f"{name}: {value}" for name, value in facts(message)]
    if message.labels:
        lines += ["", "Labels:"] + [f"  {k}={v}" for k, v in sorted(message.labels.items())]
    lines.append("")
    if message.incident_url:
        lines.append(f"Incident: {message.incident_url}")
    if message.alert_url:
        lines.append(f"Alert source: {message.alert_url}")
    if message.approval is not None:
        lines.append(APPROVAL_HINT)
    lines += [confirmation_hint(c) for c in message.confirmations]
    return "\n".join(lines).rstrip() + "\n"


def confirmation_hint(confirmation: Confirmation) -> str:
    return (
        f"Playbook {confirmation.playbook} waits for a Run click: the Run button in Slack or on the "
        f"dashboard, or `responder approve {confirmation.run_id}`."
    )


def html_body(message: Message) -> str:
    e = html.escape
    rows = "".join(f"<tr><th align='left'>{e(n)}</th><td>{e(v)}</td></tr>" for n, v in facts(message))
    labels = "".join(f"<li><code>{e(k)}={e(v)}</code></li>" for k, v in sorted(message.labels.items()))
    links = []
    if message.incident_url:
        links.append(f"<a href='{e(message.incident_url)}'>Incident {e(message.incident_id)}</a>")
    if message.alert_url:
        links.append(f"<a href='{e(message.alert_url)}'>Alert source</a>")
    approval = f"<p>{e(APPROVAL_HINT)}</p>" if message.approval is not None else ""
    approval += "".join(f"<p>{e(confirmation_hint(c))}</p>" for c in message.confirmations)
    return (
        "<!DOCTYPE html><html><body>"
        f"<p><strong>{e(message.text)}</strong></p>"
        f"<p>{e(message.summary)}</p>"
        f"<table>{rows}</table>"
        + (f"<p>Labels:</p><ul>{labels}</ul>" if labels else "")
        + (f"<p>{' · '.join(links)}</p>" if links else "")
        + approval
        + "</body></html>\n"
    )
