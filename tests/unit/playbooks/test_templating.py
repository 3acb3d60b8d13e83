"""Step parameters render in a sandbox; what alerts carry is data, never template code."""

from __future__ import annotations

from typing import Any

import pytest

from responder.errors import TemplateError
from responder.playbooks.templating import (
    check_condition_syntax,
    check_syntax,
    evaluate_condition,
    render_string,
    render_value,
    template_context,
)

INCIDENT = {"id": "inc-42", "key": "queue:abc", "severity": "critical", "rule": "queue_worker_failure"}


def context(**labels: str) -> dict[str, Any]:
    alert = {
        "status": "firing",
        "labels": {"alertname": "QueueDepthHigh", "env": "prod", **labels},
        "annotations": {"summary": "queue depth 900"},
        "fingerprint": "f00d",
        "startsAt": "2026-11-28T10:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
    }
    return template_context(alert, INCIDENT)


def test_parameters_render_against_alert_and_incident() -> None:
    rendered = render_value(
        {
            "message": "{{ alert.labels.alertname }} ({{ incident.severity }})",
            "tags": ["{{ alert.fingerprint }}"],
        },
        context(),
    )

    assert rendered == {"message": "QueueDepthHigh (critical)", "tags": ["f00d"]}


def test_plain_strings_and_other_values_pass_through() -> None:
    assert render_value({"replicas": 3, "text": "no {braces} here", "on": True}, context()) == {
        "replicas": 3,
        "text": "no {braces} here",
        "on": True,
    }


@pytest.mark.parametrize(
    "template",
    [
        "{{ alert.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ alert.labels.__class__ }}",
        "{{ alert.labels.pop('env') }}",
        "{{ alert.labels.update({'env': 'dev'}) }}",
        "{{ alert.labels.get.__self__ }}",
    ],
)
def test_sandbox_refuses_internals_and_mutation(template: str) -> None:
    ctx = context()

    with pytest.raises(TemplateError, match=r"^template refused by the sandbox: "):
        render_string(template, ctx)

    assert ctx["alert"]["labels"]["env"] == "prod"


def test_sandbox_refusal_says_what_was_refused() -> None:
    with pytest.raises(TemplateError) as caught:
        render_string("{{ ''.__class__ }}", context())

    assert str(caught.value).startswith("template refused by the sandbox: access to attribute '__class__'")


@pytest.mark.parametrize(
    "value",
    [
        "{{ 7*7 }}",
        "{% for x in range(3) %}{{ x }}{% endfor %}",
        "{{ cycler.__init__.__globals__ }}",
        "{# c #}",
    ],
)
def test_label_values_render_literally(value: str) -> None:
    # A label is data from whoever fires the alert: it is inserted, never evaluated.
    assert render_string("note: {{ alert.labels.note }}", context(note=value)) == f"note: {value}"
    assert render_value({"deep": ["{{ alert.labels.note }}"]}, context(note=value)) == {"deep": [value]}


def test_annotation_values_render_literally() -> None:
    ctx = context()
    ctx["alert"]["annotations"]["summary"] = "{{ 7*7 }}"

    assert render_string("{{ alert.annotations.summary }}", ctx) == "{{ 7*7 }}"


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        ("{{ alert.labels.cluster }}", "'dict object' has no attribute 'cluster'"),
        ("{{ nothing }}", "'nothing' is undefined"),
        ("{{ incident.owner.name }}", "'dict object' has no attribute 'owner'"),
        ("{{ alert.labels.cluster | upper }}", "'dict object' has no attribute 'cluster'"),
    ],
)
def test_undefined_values_raise_instead_of_rendering_empty(template: str, missing: str) -> None:
    # An empty deployment name or namespace must stop the step, not act on the wrong thing.
    with pytest.raises(TemplateError) as caught:
        render_string(template, context())

    assert str(caught.value) == f"template uses an undefined value: {missing}"


def test_default_filter_makes_a_missing_label_optional() -> None:
    assert render_string("{{ alert.labels.cluster | default('all') }}", context()) == "all"


def test_syntax_error_raises_template_error() -> None:
    with pytest.raises(TemplateError, match="template syntax error"):
        render_string("{{ alert.labels.env }", context())
    assert check_syntax("{{ alert.labels.env }") == "template syntax error: unexpected '}' (template line 1)"
    assert check_syntax("{{ alert.labels.env }}") is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('alert.labels.env == "prod"', True),
        ('alert.labels.env == "dev"', False),
        ('incident.severity in ["high", "critical"]', True),
        ('alert.labels.env != "prod" or incident.severity == "low"', False),
        ("alert.labels.get('cluster') is none", True),
        ("{{ alert.labels.env == 'prod' }}", True),
        ("{{ alert.labels.env == 'dev' }}", False),
        ("{% if alert.labels.env == 'prod' %}yes{% endif %}", True),
    ],
)
def test_when_conditions(expression: str, expected: bool) -> None:
    assert evaluate_condition(expression, context()) is expected


def test_when_with_an_undefined_value_raises() -> None:
    with pytest.raises(TemplateError, match="condition uses an undefined value"):
        evaluate_condition('alert.labels.cluster == "eu-1"', context())


def test_when_refuses_internals() -> None:
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        evaluate_condition("alert.__class__.__mro__", context())


def test_when_syntax_is_checked() -> None:
    assert check_condition_syntax('alert.labels.env == "prod"') is None
    assert check_condition_syntax("alert.labels.env ==") == (
        "condition syntax error in \"alert.labels.env ==\": unexpected 'end of expression'"
    )
