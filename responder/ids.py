"""What an incident id and a run id look like, in one place (docs/operations.md, HTTP API).

Ids are made by :func:`responder.clock.random_id`: lowercase hex, 12 digits for an
incident, 16 for a playbook run. Every entry point (the HTTP API, Slack button values, the
CLI) checks a given id against these rules before using it, so an id can never name
another Redis key (``<id>:escalation``) or reach Redis as something it was not meant to
be. Anything else is simply "unknown": a 404, an ephemeral answer in Slack, a CLI error.
"""

from __future__ import annotations

import re

INCIDENT_DIGITS = 12
RUN_DIGITS = 16

_INCIDENT = re.compile(f"[0-9a-f]{{{INCIDENT_DIGITS}}}")
_RUN = re.compile(f"[0-9a-f]{{{RUN_DIGITS}}}")
_APPROVAL = re.compile(f"(?P<run>[0-9a-f]{{{RUN_DIGITS}}}):(?P<step>[0-9]{{1,4}})")

INCIDENT_RULE = f"incident ids are {INCIDENT_DIGITS} lowercase hex digits"
RUN_RULE = f"run ids are {RUN_DIGITS} lowercase hex digits"


def is_incident_id(value: object) -> bool:
    """True for ``0123456789ab``; False for anything else (a trailing newline included)."""
    return isinstance(value, str) and _INCIDENT.fullmatch(value) is not None


def is_run_id(value: object) -> bool:
    """True for 16 lowercase hex digits, the id of a playbook run."""
    return isinstance(value, str) and _RUN.fullmatch(value) is not None


def parse_approval(value: object) -> tuple[str, int] | None:
    """``(run_id, step_index)`` from an Approve button's value ``<run_id>:<step_index>``, else None."""
    match = _APPROVAL.fullmatch(value) if isinstance(value, str) else None
    return (match["run"], int(match["step"])) if match else None
