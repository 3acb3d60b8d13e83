"""What templates can see of the environment: ``env`` only as listed, ``secret`` only in
http.request headers, and redaction by the values a step actually used."""

from __future__ import annotations

import json
from typing import Any

import pytest

from responder.errors import TemplateError
from responder.playbooks.templating import render_step_params, render_string, template_context
from responder.redact import redact

ENVIRON = {
    "ADMIN_API": "https://admin.example.com",
    "CLUSTER": "eu-1",
    "ADMIN_TOKEN": "adm-7f3c9a1b2d",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd",
    "RESPONDER_API_TOKEN": "api-0b5e1d",
}
ALERT = {"labels": {"alertname": "QueueDepthHigh", "note": "{{ secret.ADMIN_TOKEN }}"}}


def context(*names: str) -> dict[str, Any]:
    return template_context(ALERT, {"id": "0123456789ab"}, names, environ=ENVIRON)


def test_env_holds_only_the_variables_listed_in_templates_env() -> None:
    dumped = render_string("{{ env|tojson }}", context("ADMIN_API", "UNSET_NAME"))

    assert json.loads(dumped) == {"ADMIN_API": "https://admin.example.com"}


def test_env_of_a_variable_not_listed_is_undefined() -> None:
    with pytest.raises(TemplateError) as caught:
        render_string("{{ env.SLACK_SIGNING_SECRET }}", context("ADMIN_API"))

    assert (
        str(caught.value)
        == "template uses an undefined value: 'dict object' has no attribute 'SLACK_SIGNING_SECRET'"
    )


def test_a_secret_in_an_http_request_header_is_rendered_and_reported_as_used() -> None:
    rendered = render_step_params(
        "http.request",
        {
            "method": "POST",
            "url": "{{ env.ADMIN_API }}/feature-flags/disable-all",
            "headers": {
                "Authorization": "Bearer {{ secret.ADMIN_TOKEN }}",
                "X-Alert": "{{ alert.labels.alertname }}",
            },
        },
        context("ADMIN_API"),
        environ=ENVIRON,
    )

    assert rendered.params == {
        "method": "POST",
        "url": "https://admin.example.com/feature-flags/disable-all",
        "headers": {"Authorization": "Bearer adm-7f3c9a1b2d", "X-Alert": "QueueDepthHigh"},
    }
    assert rendered.secrets == ("adm-7f3c9a1b2d", "Bearer adm-7f3c9a1b2d")


def test_a_label_that_looks_like_a_secret_reference_stays_data() -> None:
    rendered = render_step_params(
        "http.request", {"headers": {"X-Note": "{{ alert.labels.note }}"}}, context(), environ=ENVIRON
    )

    assert rendered.params["headers"] == {"X-Note": "{{ secret.ADMIN_TOKEN }}"}
    assert rendered.secrets == ()


SECRET_ELSEWHERE = (
    "template uses secret, which is only available in http.request header values (secrets never reach a "
    "timeline, message or page); for a value that is not secret, list its variable in templates.env and "
    "use env.NAME"
)


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("notify", {"message": "token {{ secret.SLACK_SIGNING_SECRET }}"}),
        ("flags.set", {"flag": "x", "value": {"leak": "{{ secret.RESPONDER_API_TOKEN }}"}}),
        ("http.request", {"url": "https://admin.example.com/?t={{ secret.ADMIN_TOKEN }}", "headers": {}}),
        ("http.request", {"json": {"token": "{{ secret.ADMIN_TOKEN }}"}}),
    ],
)
def test_a_secret_anywhere_but_an_http_request_header_is_a_clear_error(
    action: str, params: dict[str, Any]
) -> None:
    with pytest.raises(TemplateError) as caught:
        render_step_params(action, params, context(), environ=ENVIRON)

    assert str(caught.value) == SECRET_ELSEWHERE


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (
            "{{ secret.NOT_SET }}",
            "template uses an undefined value: secret.NOT_SET: environment variable NOT_SET is not set",
        ),
        (
            "{{ secret|list }}",
            "template failed: TypeError: secret cannot be listed; name the variable: secret.NAME",
        ),
        (
            "{{ secret._environ }}",
            "template refused by the sandbox: access to attribute '_environ' of '_Secrets' object is unsafe.",
        ),
    ],
)
def test_secret_gives_one_named_variable_and_nothing_else(header: str, error: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_step_params("http.request", {"headers": {"A": header}}, context(), environ=ENVIRON)

    assert str(caught.value) == error


def test_redaction_replaces_exactly_the_values_used() -> None:
    recorded = {
        "message": "POST answered 401: bad token adm-7f3c9a1b2d (header Bearer adm-7f3c9a1b2d)",
        "details": ["eu-1", {"echo": "adm-7f3c9a1b2d"}],
    }

    assert redact(recorded, ("adm-7f3c9a1b2d", "Bearer adm-7f3c9a1b2d")) == {
        "message": "POST answered 401: bad token *** (header ***)",
        "details": ["eu-1", {"echo": "***"}],
    }
    # Values not used are left alone, whatever their variable is called.
    assert redact("api-0b5e1d eu-1", ("adm-7f3c9a1b2d",)) == "api-0b5e1d eu-1"
