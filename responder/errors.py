"""Domain exceptions, in one place. Each says when it is raised."""

from __future__ import annotations

from dataclasses import dataclass


class ResponderError(Exception):
    """Base of every exception this package raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the configuration, located as precisely as we can."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" {self.path}:" if self.path else ""
        return f"{where}:{at} {self.message}"


class ConfigError(ResponderError):
    """Raised when the configuration directory does not load or does not check.

    Carries every issue found, so `responder check` can print them all at once.
    """

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class MatcherError(ResponderError):
    """Raised when a matcher string is not valid Alertmanager matcher syntax."""


class DurationError(ResponderError):
    """Raised when a duration is not Prometheus-style (``500ms``, ``30s``, ``1h30m``)."""


class TemplateError(ResponderError):
    """Raised when a step template does not compile or fails to render (also on sandbox violations)."""


class ActionError(ResponderError):
    """Raised by an action that could not do its job. The message says what to do next.

    ``retryable`` tells the runner whether another attempt may succeed (5xx, timeouts, 409);
    a refusal (bad namespace, 404, 403) is not retried.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class ActionRefused(ActionError):
    """Raised before anything is sent when parameters are unsafe (namespace not allowed, bad name)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class NotifyError(ResponderError):
    """Raised by a channel when a send failed for good (after its retries), with the response body."""


class RateLimited(NotifyError):
    """Raised by a channel when the service answered 429 (Too Many Requests).

    The send is not retried in the worker: the delivery is re-enqueued to run after
    ``retry_after`` seconds (the service's ``Retry-After``), so no worker sleeps. ``ref`` is
    set when part of the send got through (a Slack card posted before its thread line was
    refused), so the retry does not post it twice.
    """

    def __init__(self, message: str, retry_after: float, ref: str | None = None) -> None:
        self.retry_after = retry_after
        self.ref = ref
        super().__init__(message)


class RedisUrlError(ResponderError):
    """Raised at start when ``REDIS_URL`` (or ``REDIS_WAIT_REPLICAS``) is malformed; says what is wrong
    and never repeats the password."""


class ReplicasBehind(ResponderError):
    """Raised when an accepted batch did not reach ``REDIS_WAIT_REPLICAS`` replicas in time; the
    webhook answers 503 so Alertmanager sends it again (the retry is deduplicated)."""

    def __init__(self, wanted: int, confirmed: int, timeout_ms: int) -> None:
        self.wanted, self.confirmed = wanted, confirmed
        super().__init__(
            f"accepted by the Redis primary, but {confirmed} of the {wanted} replicas required by "
            f"REDIS_WAIT_REPLICAS confirmed it within {timeout_ms} ms"
        )


class JobHandedBack(ResponderError):
    """Raised inside a worker when the job it runs goes back to its queue instead of failing: Redis
    became unreachable mid-job (the job did not fail, its store did), or a shutdown's grace ran out."""


class ShutdownGraceOver(BaseException):
    """Raised in a running job when its worker was asked to stop and the grace period is over.

    A BaseException, like KeyboardInterrupt, so that a job's ``except Exception`` cannot
    mistake it for its own failure; the worker hands the job back to its queue.
    """


class IncidentNotFound(ResponderError):
    """Raised when an incident id does not exist (or has aged out of retention)."""


class ApprovalRefused(ResponderError):
    """Raised when an approval comes too late: the step's wait for approval expired (1h), or
    its incident resolved. The refusal is recorded in the timeline before this is raised."""
