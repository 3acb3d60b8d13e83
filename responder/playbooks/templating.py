"""Step parameters are Jinja2 templates rendered in a sandbox.

The context is ``alert`` (labels, annotations, fingerprint, startsAt, generatorURL),
``incident`` (id, severity, rule, key) and ``env``, which holds only the environment
variables named in ``templates.env`` of responder.yaml. Values from the context are data:
a label whose value is ``{{ 7*7 }}`` renders literally, because nothing rendered is ever
rendered again.

Secrets reach exactly one place: an ``http.request`` header value may use
``{{ secret.NAME }}`` for any environment variable. :func:`render_step_params` returns the
secret values a step used, so the runner can redact exactly those from every outcome,
message and timeline entry; anywhere else ``secret`` is undefined.

The sandbox caps what a template may compute (:mod:`responder.playbooks.sandbox`) and
:data:`MAX_OUTPUT` caps what one template renders.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError

from responder.errors import TemplateError
from responder.playbooks.sandbox import CapExceeded, CappedSandbox

MAX_OUTPUT = 65_536
"""Characters one template may render."""
SECRET_ACTION = "http.request"
SECRET_PARAM = "headers"
"""``{{ secret.NAME }}`` works only in the values of this parameter of this action."""
_SECRET_ELSEWHERE = (
    "secret, which is only available in http.request header values (secrets never reach a timeline, "
    "message or page); for a value that is not secret, list its variable in templates.env and use env.NAME"
)


@lru_cache(maxsize=1)
def environment() -> CappedSandbox:
    return CappedSandbox()


TEMPLATE_CACHE = 512
"""Compiled templates kept per process, keyed by source: a storm renders the same few step
templates for every alert, and compiling one costs far more than rendering it."""


@lru_cache(maxsize=TEMPLATE_CACHE)
def _compiled(source: str) -> Template:
    """``source`` compiled once per process (the sandbox and its caps are part of the compiled code)."""
    return environment().from_string(source)


@lru_cache(maxsize=TEMPLATE_CACHE)
def _compiled_expression(expression: str) -> Callable[..., Any]:
    return environment().compile_expression(expression, undefined_to_none=False)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_syntax(source: str) -> str | None:
    """The syntax error in ``source``, or None when it compiles."""
    try:
        environment().parse(source)
    except TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (template line {exc.lineno})"
    return None


def template_context(
    alert: Mapping[str, Any],
    incident: Mapping[str, Any],
    env_names: Iterable[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The context steps render against; ``env`` holds only ``env_names`` (``templates.env``) that are set."""
    environ = os.environ if environ is None else environ
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
        "env": {name: environ[name] for name in env_names if name in environ},
    }


@contextmanager
def _as_template_error(what: str) -> Iterator[None]:
    """Turn Jinja2's errors into TemplateError, worded for ``what`` (template or condition)."""
    try:
        yield
    except CapExceeded as exc:
        raise TemplateError(f"{what} over a size cap: {exc}") from None
    except SecurityError as exc:
        raise TemplateError(f"{what} refused by the sandbox: {exc}") from None
    except UndefinedError as exc:
        if exc.message == "'secret' is undefined":
            raise TemplateError(f"{what} uses {_SECRET_ELSEWHERE}") from None
        raise TemplateError(f"{what} uses an undefined value: {exc.message}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{what} syntax error: {exc.message}") from None


def render_string(source: str, context: Mapping[str, Any]) -> str:
    """Render one template.

    Raises:
        TemplateError: syntax error, undefined variable, a sandbox violation, or a size cap.
    """
    if not is_template(source):
        return source
    try:
        with _as_template_error("template"):
            parts: list[str] = []
            size = 0
            for part in _compiled(source).generate(context):
                size += len(part)
                if size > MAX_OUTPUT:
                    raise CapExceeded(
                        f"rendered output over the cap of {MAX_OUTPUT} characters (templating.MAX_OUTPUT)"
                    )
                parts.append(part)
            return "".join(parts)
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


@dataclass(frozen=True)
class RenderedParams:
    """A step's parameters after rendering, and what must be redacted wherever they could show."""

    params: dict[str, Any]
    secrets: tuple[str, ...] = ()
    """Every secret value the step used, and each rendered header value that holds one."""


class _Secrets:
    """``secret`` in an http.request header: any environment variable, remembered when read."""

    # Underscored attributes: the sandbox refuses them, so a template reaches only __getitem__.
    __slots__ = ("_environ", "_used")

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._used: list[str] = []

    def __getitem__(self, name: str) -> str:
        value = self._environ.get(name) if isinstance(name, str) else None
        if value is None:
            raise UndefinedError(f"secret.{name}: environment variable {name} is not set")
        if value:
            self._used.append(value)
        return value

    def __iter__(self) -> Iterator[str]:
        raise TypeError("secret cannot be listed; name the variable: secret.NAME")


def render_step_params(
    action: str, params: Mapping[str, Any], context: Mapping[str, Any], *, environ: Mapping[str, str]
) -> RenderedParams:
    """Render a step's ``with:``; ``secret`` is defined only in http.request header values.

    Raises:
        TemplateError: as :func:`render_string`, and for ``secret`` used anywhere else.
    """
    headers = params.get(SECRET_PARAM) if action == SECRET_ACTION else None
    if not isinstance(headers, dict):
        return RenderedParams({k: render_value(v, context) for k, v in params.items()})
    rendered = {k: render_value(v, context) for k, v in params.items() if k != SECRET_PARAM}
    secrets = _Secrets(environ)
    with_secrets = {**context, "secret": secrets}
    rendered_headers: dict[str, Any] = {}
    holding: list[str] = []
    for name, value in headers.items():
        before = len(secrets._used)
        rendered_headers[name] = render_value(value, with_secrets)
        if len(secrets._used) > before and isinstance(rendered_headers[name], str):
            holding.append(rendered_headers[name])
    rendered[SECRET_PARAM] = rendered_headers
    used = dict.fromkeys([*secrets._used, *holding])  # ordered and unique
    return RenderedParams(rendered, tuple(used))


def evaluate_condition(expression: str, context: Mapping[str, Any]) -> bool:
    """Evaluate a step's ``when``: a Jinja2 expression (``alert.labels.env == "prod"``) or a template."""
    if is_template(expression):
        text = render_string(expression, context).strip().lower()
        return text not in ("", "false", "0", "no", "none")
    with _as_template_error("condition"):
        return bool(_compiled_expression(expression)(**context))


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


@dataclass(frozen=True)
class NamesUsed:
    """What a template reads from its context, for ``responder check``."""

    uses_secret: bool
    env: frozenset[str]
    """Names read as ``env.NAME`` or ``env["NAME"]``."""


def names_used(source: str, *, expression: bool = False) -> NamesUsed | None:
    """What ``source`` (a template, or a ``when`` expression) reads; None when it does not parse."""
    text = source if not expression or is_template(source) else "{{ " + source + " }}"
    try:
        tree = environment().parse(text)
    except TemplateSyntaxError:
        return None
    env: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if isinstance(target, nodes.Name) and target.name == "env":
            key = getattr(node, "attr", None) or getattr(getattr(node, "arg", None), "value", None)
            if isinstance(key, str):
                env.add(key)
    return NamesUsed("secret" in meta.find_undeclared_variables(tree), frozenset(env))
