"""Step parameters are Jinja2 templates rendered in a sandbox.

The context is ``alert`` (labels, annotations, fingerprint, startsAt, generatorURL),
``incident`` (id, severity, rule, key) and ``env``. Values from the context are data:
a label whose value is ``{{ 7*7 }}`` renders literally, because nothing rendered is
ever rendered again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from responder.errors import TemplateError


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_syntax(source: str) -> str | None:
    """The syntax error in ``source``, or None when it compiles."""
    try:
        environment().parse(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (template line {exc.lineno})"
    return None


def template_context(alert: Mapping[str, Any], incident: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "alert": {
            "labels": dict(alert.get("labels") or {}),
            "annotations": dict(alert.get("annotations") or {}),
            "fingerprint": alert.get("fingerprint", ""),
            "startsAt": alert.get("startsAt", ""),
            "generatorURL": alert.get("generatorURL", ""),
            "status": alert.get("status", ""),
        },
        "incident": {k: incident.get(k) for k in ("id", "key", "severity", "rule", "status")},
        "env": dict(os.environ),
    }


@contextmanager
def _as_template_error(what: str) -> Iterator[None]:
    """Turn Jinja2's errors into TemplateError, worded for ``what`` (template or condition)."""
    try:
        yield
    except SecurityError as exc:
        raise TemplateError(f"{what} refused by the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{what} uses an undefined value: {exc.message}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{what} syntax error: {exc.message}") from None


def render_string(source: str, context: Mapping[str, Any]) -> str:
    """Render one template.

    Raises:
        TemplateError: syntax error, undefined variable, or a sandbox violation.
    """
    if not is_template(source):
        return source
    try:
        with _as_template_error("template"):
            return environment().from_string(source).render(context)
    except TemplateError:
        raise
    except Exception as exc:  # any other error inside a user template is the template's fault
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside ``value`` (dicts and lists recursively)."""
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value


def evaluate_condition(expression: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a step's ``when``: a Jinja2 expression (``alert.labels.env == "prod"``) or a template."""
    if is_template(expression):
        text = render_string(expression, context).strip().lower()
        return text not in ("", "false", "0", "no", "none")
    with _as_template_error("condition"):
        compiled = environment().compile_expression(expression, undefined_to_none=False)
        return bool(compiled(**context))


def check_condition_syntax(expression: str) -> str | None:
    if is_template(expression):
        return check_syntax(expression)
    try:
        environment().compile_expression(expression)
    except TemplateSyntaxError as exc:
        # Jinja2 parses the expression as a template, so it calls the end of it "end of template".
        problem = (exc.message or "invalid expression").replace("end of template", "end of expression")
        return f'condition syntax error in "{expression}": {problem}'
    return None
