"""Credentials and settings the notification tests hand the responder.

None of the secrets may ever show up in an error, a log line or a delivery record.
"""

from __future__ import annotations

from dataclasses import dataclass

from responder.notify.base import Retry


@dataclass(frozen=True)
class Secrets:
    slack_token: str = "xoxb-test-1234567890-SECRETTOKEN"
    signing_secret: str = "8f742231b10e8888abcd99yyyzzz85a5"
    smtp_password: str = "smtp-pass-TOPSECRET-42"
    pd_key_dev: str = "R0UT1NGKEYDEV0000000000000000001"
    pd_key_ops: str = "R0UT1NGKEY0PS0000000000000000002"

    def all(self) -> list[str]:
        return [self.slack_token, self.signing_secret, self.smtp_password, self.pd_key_dev, self.pd_key_ops]


SECRETS = Secrets()
PUBLIC_URL = "https://responder.example.com"
FAST_RETRY = Retry(attempts=3, backoff=0.05, max_wait=0.2)
"""Short waits so retry tests take milliseconds (a 429 still waits for its Retry-After)."""
