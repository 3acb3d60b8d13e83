"""Templates cannot exhaust the worker: what would outgrow a cap is refused before it is computed.

Each bomb here is sized so that, uncapped, it would still finish in well under a second (and
render or evaluate without error): the cap is what makes it fail, and the message names the cap.
"""

from __future__ import annotations

from typing import Any

import pytest

from responder.errors import TemplateError
from responder.playbooks.templating import evaluate_condition, render_string, template_context


def context() -> dict[str, Any]:
    return template_context({"labels": {"alertname": "QueueDepthHigh", "n": "7"}}, {"id": "0123456789ab"})


LENGTH_CAP = "over the cap of 100000 characters or items (sandbox.MAX_LENGTH)"
BITS_CAP = "over the cap of 4096 bits (sandbox.MAX_INT_BITS)"
OUTPUT_CAP = "rendered output over the cap of 65536 characters (templating.MAX_OUTPUT)"


@pytest.mark.parametrize(
    ("template", "cap"),
    [
        ("{{ ('a' * 10**6)|length }}", LENGTH_CAP),  # the 'a' * 10**9, a thousand times smaller
        ("{{ ([0] * 10**6)|length }}", LENGTH_CAP),
        ("{{ (10**(10**5)) % 7 }}", BITS_CAP),  # the 10**(10**7), a hundred times smaller
        ("{{ (7**50000) % 10 }}", BITS_CAP),
        ("{{ ('x' * 60000 + 'y' * 60000)|length }}", LENGTH_CAP),
        ("{{ ('x' * 60000 ~ 'y' * 60000)|length }}", LENGTH_CAP),
        (
            "{% macro grow(s, n) %}{% if n %}{{ grow(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}"
            "{% endmacro %}{{ grow('ab', 20) }}",
            LENGTH_CAP,
        ),
        ("{{ ('%0200000d' % 1)|length }}", LENGTH_CAP),
        ("{{ ('%0200000d'|format(1))|length }}", LENGTH_CAP),
        ("{{ ('{:>200000}'.format(1))|length }}", LENGTH_CAP),
        ("{{ 'a'.ljust(200000)|length }}", LENGTH_CAP),
        ("{{ ('a'|center(200000))|length }}", LENGTH_CAP),
        ("{{ ('ab' * 40000).replace('', 'xyz')|length }}", LENGTH_CAP),
        ("{{ (range(50000)|join('--'))|length }}", LENGTH_CAP),
        ("{{ (([[1] * 1000] * 1000)|sum(start=[]))|length }}", LENGTH_CAP),
        ("{% for i in range(20000) %}abcd{% endfor %}", OUTPUT_CAP),
    ],
)
def test_a_template_that_would_outgrow_a_cap_fails_naming_the_cap(template: str, cap: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_string(template, context())

    assert str(caught.value).startswith("template over a size cap: ")
    assert str(caught.value).endswith(cap)


def test_a_condition_that_would_outgrow_a_cap_fails_naming_it() -> None:
    with pytest.raises(TemplateError) as caught:
        evaluate_condition("10**(10**5) > 1", context())

    assert str(caught.value) == (
        "condition over a size cap: a power would have about 400000 bits, " + BITS_CAP
    )


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ 2 ** 64 }}", "18446744073709551616"),
        ("{{ [1, 2] + [3] }}", "[1, 2, 3]"),
        ("{{ '%5s|%-3d|' % ('a', 7) }}", "    a|7  |"),
        ("{{ '{:>4}'.format(alert.labels.n) }}", "   7"),
        ("{{ 'a,b'|replace(',', '; ') }}", "a; b"),
        ("{{ ['x', 'y']|join(', ') }}", "x, y"),
        ("{{ alert.labels.alertname ~ '/' ~ incident.id }}", "QueueDepthHigh/0123456789ab"),
        ("{{ ('x' * 100000)|length }}", "100000"),  # at the length cap exactly
    ],
)
def test_ordinary_templates_are_not_affected(template: str, rendered: str) -> None:
    assert render_string(template, context()) == rendered
