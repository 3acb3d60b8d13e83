"""The daily digest: posted to Slack and emailed at its times, once per time however many workers look."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from responder.report import digest
from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.conftest import timed_runtime
from tests.fakes.paging import Paging
from tests.helpers import advance, alert, body, drain

DIGEST = """
digest:
  at: ["09:00", "13:00", "18:00"]
  timezone: Europe/Berlin
  slack: "#ops"
  email: [ops@example.com]
"""


@pytest.fixture
def with_digest(paging: Paging, config_dir: Path) -> Paging:
    with (config_dir / "responder.yaml").open("a") as f:
        f.write(DIGEST)
    return paging


def set_time(runtime: Runtime, local: str) -> None:
    """Move the test clock to a Berlin wall time (forward only)."""
    target = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    assert target >= runtime.clock()
    advance(runtime, target - runtime.clock())


def digests(paging: Paging) -> list[str]:
    return [
        r.body["text"] for r in paging.slack.calls("chat.postMessage") if "digest" in r.body.get("text", "")
    ]


def test_each_slot_is_sent_once_to_slack_and_email(with_digest: Paging, runtime: Runtime) -> None:
    set_time(runtime, "2030-01-07 08:00")
    assert digest.maybe_send(runtime) is None  # the first start only remembers where it is
    create_app(runtime).test_client().post("/webhook/alertmanager", data=body(alert("APIQuotaExhaustion")))
    drain(runtime)

    set_time(runtime, "2030-01-07 09:00")
    sent = digest.maybe_send(runtime)
    assert sent is not None and "incidents opened: 1" in sent
    assert digest.maybe_send(runtime) is None  # the same slot again: nothing
    [posted] = digests(with_digest)
    # Since the slot before (the first start remembered it), in the digest's time zone.
    assert "alert-responder digest, 2030-01-07 09:00 CET (since 2030-01-06 18:00 CET)" in posted
    assert "sent late" not in posted
    assert "open incidents now: 1" in posted
    [mail] = [m for m in with_digest.smtp.received if "digest" in m.message["Subject"]]
    assert mail.rcpt_tos == ["ops@example.com"]
    assert "incidents opened: 1" in mail.message.get_content()


def test_several_workers_send_a_slot_once(with_digest: Paging, runtime: Runtime, config_dir: Path) -> None:
    set_time(runtime, "2030-01-07 08:00")
    digest.maybe_send(runtime)
    other = timed_runtime()  # a second worker's runtime on the same Redis
    other.clock = runtime.clock
    set_time(runtime, "2030-01-07 13:00")

    results = [digest.maybe_send(runtime), digest.maybe_send(other)]

    assert sum(r is not None for r in results) == 1
    assert len(digests(with_digest)) == 1


def test_slots_missed_while_every_worker_was_down_are_sent_late_once(
    with_digest: Paging, runtime: Runtime
) -> None:
    set_time(runtime, "2030-01-07 08:00")
    digest.maybe_send(runtime)
    # Nobody looked at 09:00, 13:00 or 18:00; a worker comes back at 19:30.
    runtime.clock.offset += (  # type: ignore[attr-defined]
        datetime(2030, 1, 7, 19, 30, tzinfo=ZoneInfo("Europe/Berlin")).timestamp() - runtime.clock()
    )
    assert digest.maybe_send(runtime) is not None
    assert digest.maybe_send(runtime) is None
    [late] = digests(with_digest)
    assert "(since 2030-01-06 18:00 CET)" in late  # one digest covering the whole gap
    assert "the 2030-01-07 18:00 CET digest, sent late" in late
