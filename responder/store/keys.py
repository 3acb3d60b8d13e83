"""Every Redis key the responder uses, in one place.

All keys start with a prefix (``RESPONDER_KEY_PREFIX``, default ``responder``) so
several responders, or several tests, can share one Redis. Each key has a TTL or is
swept by retention (the workers' hourly sweep: ``responder.incidents.retention`` and
``responder.store.incidents.sweep``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DAY = 86400
DEDUPE_TTL = 7 * DAY
"""How long an alert key is remembered. Alertmanager re-sends a firing alert every
repeat_interval (4h by default) with the same startsAt, so this outlives many re-sends."""
INCIDENT_RETENTION = 30 * DAY
BATCH_TTL = 7 * DAY


def default_prefix() -> str:
    return os.environ.get("RESPONDER_KEY_PREFIX", "responder")


@dataclass(frozen=True)
class Keys:
    prefix: str = "responder"

    @property
    def queue_name(self) -> str:
        """The base of this responder's RQ queue names (before lanes, its only queue: workers serving
        the last lane still drain it, so jobs queued by an older version are not stranded)."""
        return self.prefix

    def lane_queue(self, lane: str) -> str:
        """The RQ queue of one lane (see :class:`responder.scheduling.Lane`): ``<prefix>:<lane>``."""
        return f"{self.queue_name}:{lane}"

    def dedupe(self, fingerprint: str, status: str, starts_at: str) -> str:
        return f"{self.prefix}:dedupe:{fingerprint}:{status}:{starts_at}"

    def batch(self, batch_id: str) -> str:
        return f"{self.prefix}:batch:{batch_id}"

    @property
    def pending_batches(self) -> str:
        """Sorted set: accepted batch ids by arrival time, until the sweep finds them processed."""
        return f"{self.prefix}:batches:pending"

    @property
    def intake_batches(self) -> str:
        """List: accepted batch ids waiting for the intake lane's drain job, oldest first; each leaves it
        when a drain job takes it (:mod:`responder.store.ingest`)."""
        return f"{self.prefix}:intake:batches"

    @property
    def intake_taken(self) -> str:
        """Hash: batch id -> id of the drain job processing it, until that job is done with it
        (the orphan sweep's view of batches in flight); expires with the batches."""
        return f"{self.prefix}:intake:taken"

    @property
    def intake_drainer(self) -> str:
        """The id of a drain job queued and not yet started, while there is one (a TTL bounds it):
        a webhook that finds it queues no other."""
        return f"{self.prefix}:intake:drainer"

    @property
    def active_runs(self) -> str:
        """Set: ids of runs that queued a step job, until the sweep finds them finished."""
        return f"{self.prefix}:runs:active"

    @property
    def sweep_lock(self) -> str:
        """Held by the worker sweeping for orphaned batches and steps, so one sweeps at a time."""
        return f"{self.prefix}:sweep:lock"

    @property
    def sweep_suspects(self) -> str:
        """Hash: work seen in no queue or registry -> when first seen so (re-queued if still so later)."""
        return f"{self.prefix}:sweep:suspects"

    def incident(self, incident_id: str) -> str:
        return f"{self.prefix}:incident:{incident_id}"

    def incident_alerts(self, incident_id: str) -> str:
        """Hash: alert fingerprint -> JSON of the alert's latest state."""
        return f"{self.prefix}:incident:{incident_id}:alerts"

    def timeline(self, incident_id: str) -> str:
        return f"{self.prefix}:incident:{incident_id}:timeline"

    @property
    def incidents(self) -> str:
        """Sorted set of incident ids scored by creation time (newest first when read)."""
        return f"{self.prefix}:incidents"

    @property
    def open_incidents(self) -> str:
        """Hash: incident key -> id of the open incident with that key."""
        return f"{self.prefix}:incidents:open"

    def incident_lock(self, incident_key: str) -> str:
        return f"{self.prefix}:lock:incident:{incident_key}"

    def resolved_early(self, fingerprint: str, starts_at: str) -> str:
        """Marks an alert whose resolution arrived before (or without) its firing."""
        return f"{self.prefix}:resolved-early:{fingerprint}:{starts_at}"

    @property
    def flags(self) -> str:
        """Hash: flag name -> JSON value."""
        return f"{self.prefix}:flags"

    @property
    def flags_seeded(self) -> str:
        return f"{self.prefix}:flags:seeded"

    def cooldown(self, incident_key: str) -> str:
        return f"{self.prefix}:cooldown:{incident_key}"

    def budget(self, hour: int) -> str:
        return f"{self.prefix}:budget:{hour}"

    @property
    def paused(self) -> str:
        return f"{self.prefix}:automation:paused"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def run_approving(self, run_id: str) -> str:
        """The lock held while an approval (or its expiry) of ``run_id`` is decided."""
        return f"{self.prefix}:run:{run_id}:approving"

    def playbook_lock(self, playbook: str, target: str) -> str:
        return f"{self.prefix}:lock:playbook:{playbook}:{target}"

    @property
    def unmatched(self) -> str:
        """Capped list of alerts no rule matched, newest first (bounded in count and in bytes)."""
        return f"{self.prefix}:unmatched"

    @property
    def unmatched_bytes(self) -> str:
        """The total size of the entries in :attr:`unmatched`, kept beside it by the same script."""
        return f"{self.prefix}:unmatched:bytes"

    def slack_signature(self, signature: str) -> str:
        """A signed Slack body already accepted: each is acted on once (replays are ignored)."""
        return f"{self.prefix}:slack:signature:{signature}"

    def slack_usergroup(self, group_id: str) -> str:
        """The members of a Slack user group, as ``usergroups.users.list`` gave them (cached briefly)."""
        return f"{self.prefix}:slack:usergroup:{group_id}"

    @property
    def config_version(self) -> str:
        """Bumped by ``/-/reload`` so workers reload the config too."""
        return f"{self.prefix}:config:version"

    @property
    def retention_lock(self) -> str:
        """Held for an hour by the worker that last swept old incidents."""
        return f"{self.prefix}:retention:lock"

    def counter(self, name: str) -> str:
        return f"{self.prefix}:counter:{name}"

    def escalation(self, incident_id: str) -> str:
        """Hash with the escalation token and level; a timer whose token differs does nothing."""
        return f"{self.prefix}:incident:{incident_id}:escalation"

    def rule_opens(self, rule: str) -> str:
        """Sorted set: what each new alert of ``rule`` would have opened (incident id, or the alert
        that joined the storm incident instead), scored by when; trimmed to the storm window."""
        return f"{self.prefix}:rule:{rule}:opens"

    def key_opens(self, incident_key: str) -> str:
        """Sorted set: the incidents opened with ``incident_key``, scored by when; trimmed to the
        flapping window (the flapping brake counts them)."""
        return f"{self.prefix}:key:{incident_key}:opens"

    def flapping(self, incident_key: str) -> str:
        """When ``incident_key`` last opened while flapping: it stays flapping for the window after."""
        return f"{self.prefix}:key:{incident_key}:flapping"

    def verification(self, incident_id: str) -> str:
        """Hash: an incident's verification loop (store/verification.py), kept like its runs."""
        return f"{self.prefix}:incident:{incident_id}:verify"

    def pending_deliveries(self, incident_id: str, channel: str, target: str) -> str:
        """List: messages for one incident and channel target waiting behind a rate-limited one, oldest
        first; while it is not empty, new messages there join its end so they arrive in order."""
        return f"{self.prefix}:incident:{incident_id}:pending:{channel}:{target}"

    def deliveries(self, incident_id: str) -> str:
        """Hash: ``channel:target`` -> ref of the first delivery (Slack ts, Message-ID, dedup key)."""
        return f"{self.prefix}:incident:{incident_id}:deliveries"

    def delivery_lock(self, incident_id: str, field: str) -> str:
        """Held while one worker makes the first delivery to ``field`` (``channel:target``)."""
        return f"{self.deliveries(incident_id)}:lock:{field}"

    def report_hour(self, hour: int) -> str:
        """Hash of the report's counters for incidents opened in that hour (``ts // 3600``): store/reports."""
        return f"{self.prefix}:report:h:{hour}"

    def histogram(self, name: str) -> str:
        """Hash holding a Prometheus histogram's bucket counts (``tta``, ``ttr``) for ``/metrics``."""
        return f"{self.prefix}:metrics:{name}"

    def incident_runs(self, incident_id: str) -> str:
        """Set of the ids of an incident's playbook runs."""
        return f"{self.prefix}:incident:{incident_id}:runs"

    def report_scratch(self) -> str:
        """Where the report merges a window's samples; written, read and deleted in one transaction."""
        return f"{self.prefix}:report:scratch"

    @property
    def digest_last(self) -> str:
        """The epoch second of the last digest slot sent (one digest per slot across all workers)."""
        return f"{self.prefix}:digest:last"

    @property
    def heartbeat_last(self) -> str:
        """When the heartbeat alert last arrived (epoch seconds), set by the web on every receipt."""
        return f"{self.prefix}:heartbeat:last"

    @property
    def heartbeat_started(self) -> str:
        """When the responder first checked the heartbeat: silence is counted from here at first."""
        return f"{self.prefix}:heartbeat:started"

    @property
    def heartbeat_next(self) -> str:
        """When the next heartbeat check is due (a check overdue by a minute was lost)."""
        return f"{self.prefix}:heartbeat:next"
