"""The daily digest: the report's summary since the last digest, at the times ``digest.at`` names.

Every worker looks at each maintenance tick (a few seconds); the first to see that the
latest slot has not been sent claims it in Redis (``digest:last``, compare-and-set), so
each slot is sent exactly once however many workers run. When every worker was down at
a slot's time, the next one up sends it late, once; slots missed before it are not
repeated. A responder's first start remembers the latest slot without sending it, so a
deployment at 10:00 does not post the 09:00 digest.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from responder.clock import iso
from responder.config.models import Digest
from responder.errors import NotifyError
from responder.notify.email import EmailChannel
from responder.notify.slack import SlackChannel
from responder.report.build import build
from responder.report.text import summary_lines
from responder.store import guards

if TYPE_CHECKING:
    from responder.runtime import Runtime

log = logging.getLogger(__name__)

LATE = 300.0
"""Seconds after its slot past which a digest says it was sent late."""

# Sets the slot when it is newer than the stored one; returns the previous one ("" when none), or
# false when another worker already took this slot.
_CLAIM = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) >= tonumber(ARGV[1]) then return false end
redis.call('SET', KEYS[1], ARGV[1])
return last or ''
"""


def latest_slot(digest: Digest, now: float) -> float:
    """The most recent digest time at or before ``now`` (epoch seconds)."""
    zone = ZoneInfo(digest.timezone)
    today = datetime.fromtimestamp(now, zone).date()
    candidates = []
    for day in (today - timedelta(days=1), today):
        for spelled in digest.at:
            hour, minute = (int(part) for part in spelled.split(":"))
            candidates.append(datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp())
    return max(t for t in candidates if t <= now)


def claim(rt: Runtime, slot: float) -> float | None:
    """Take ``slot`` for this worker; returns when the previous digest was (0 on the first start), or
    None when the slot was already taken."""
    previous = rt.redis.eval(_CLAIM, 1, rt.keys.digest_last, int(slot))
    if previous is None:
        return None
    return float(previous) if previous not in (b"", "") else 0.0


def maybe_send(rt: Runtime) -> str | None:
    """Send the digest if a slot is due and unsent; returns what was sent (for logs and tests)."""
    digest = rt.config.responder.digest
    if digest is None:
        return None
    now = rt.clock()
    slot = latest_slot(digest, now)
    previous = claim(rt, slot)
    if previous is None:
        return None
    if previous == 0:
        log.info("digest: first start, next digest after %s", iso(slot))
        return None
    text = compose(rt, digest, previous, now)
    if now - slot > LATE:
        text += f"\n(the {_local(slot, digest)} digest, sent late: no worker was running then)"
    send(digest, text, subject=f"alert-responder digest {_local(slot, digest)}")
    return text


def compose(rt: Runtime, digest: Digest, since: float, now: float) -> str:
    report = build(rt.redis, rt.keys, since, now, rules=[r.name for r in rt.config.rules])
    open_now = rt.redis.hlen(rt.keys.open_incidents)
    used = guards.budget_used(rt.redis, rt.keys, now)
    limit = rt.config.responder.safety.max_actions_per_hour
    lines = [
        f"alert-responder digest, {_local(now, digest)} (since {_local(since, digest)})",
        *summary_lines(report),
        f"open incidents now: {open_now}",
        f"automation budget used this hour: {used} of {limit}"
        + (" (automation paused)" if guards.is_paused(rt.redis, rt.keys) else ""),
    ]
    return "\n".join(lines)


def send(digest: Digest, text: str, *, subject: str) -> None:
    """Post to the digest's Slack channel and email it; one failing is logged, the other still sends."""
    if digest.slack:
        try:
            SlackChannel.from_env().post_text(digest.slack, text)
        except NotifyError as exc:
            log.warning("digest to Slack %s failed: %s", digest.slack, exc)
    if digest.email:
        try:
            EmailChannel.from_env().send_text(digest.email, subject, text)
        except NotifyError as exc:
            log.warning("digest email failed: %s", exc)


def _local(ts: float, digest: Digest) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(digest.timezone)).strftime("%Y-%m-%d %H:%M %Z")
