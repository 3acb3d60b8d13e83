"""``http.allowed_hosts``: which hosts an entry admits, and what ``responder check`` says about URLs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from responder.cli import main
from responder.config.hosts import allowed, parse_pattern, url_host

TESTDATA = Path(__file__).parents[2] / "testdata"


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ("admin.example.com", "https://admin.example.com/x"),
        ("admin.example.com", "http://ADMIN.example.com.:8080/x"),
        ("admin.example.com:8443", "https://admin.example.com:8443/x"),
        ("admin.example.com:443", "https://admin.example.com/x"),
        ("*.example.com", "https://a.b.example.com/x"),
        ("127.0.0.1", "http://127.0.0.1:5000/x"),
        ("::1", "http://[::1]:5000/x"),
        ("[::1]:5000", "http://[0:0::1]:5000/x"),
    ],
)
def test_an_entry_admits(entry: str, url: str) -> None:
    target = url_host(url)
    assert target is not None

    assert allowed([entry], *target)


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        ("admin.example.com", "https://admin.example.com.evil.net/x"),
        ("admin.example.com", "https://evil.net/admin.example.com"),
        ("admin.example.com", "https://evil.net?x=admin.example.com"),
        ("admin.example.com:8443", "https://admin.example.com/x"),
        ("*.example.com", "https://example.com/x"),
        ("*.example.com", "https://badexample.com/x"),
        ("127.0.0.1", "http://127.0.0.2/x"),
        ("127.0.0.1", "http://localhost/x"),
        ("127.0.0.1", "http://2130706433/x"),  # the same address spelt as a number: not listed, refused
    ],
)
def test_an_entry_does_not_admit(entry: str, url: str) -> None:
    target = url_host(url)
    assert target is None or not allowed([entry], *target)


@pytest.mark.parametrize(
    "url", ["https://user:pass@admin.example.com/x", "ftp://admin.example.com/x", "admin.example.com/x", ""]
)
def test_urls_with_credentials_or_without_http_have_no_host_to_allow(url: str) -> None:
    assert url_host(url) is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("https://admin.example.com", "without scheme or path"),
        ("admin.example.com/api", "without scheme or path"),
        ("admin.example.com:99999", "the port must be a number from 1 to 65535"),
        ("a*.example.com", 'a wildcard is only allowed as a leading "*."'),
        ("exa mple.com", "is not a valid host name"),
    ],
)
def test_bad_entries_say_what_to_write(entry: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_pattern(entry)


def check_urls(tmp_path: Path, *urls: str) -> list[str]:
    """``responder check`` on the basic config with one http.request step per URL; its error lines."""
    directory = tmp_path / "config"
    shutil.copytree(TESTDATA / "config" / "basic", directory)
    steps = "".join(f"  - action: http.request\n    with: {{method: GET, url: '{u}'}}\n" for u in urls)
    (directory / "playbooks" / "calls.yaml").write_text(f"name: calls\nsteps:\n{steps}")
    result = CliRunner().invoke(main, ["check", "--config", str(directory)])
    prefix = f"{directory}/playbooks/calls.yaml:"
    return [line.removeprefix(prefix) for line in result.stderr.splitlines() if line.startswith(prefix)]


def test_check_errors_on_literal_hosts_outside_the_list_and_leaves_templated_ones_to_the_run(
    tmp_path: Path,
) -> None:
    errors = check_urls(
        tmp_path,
        "http://127.0.0.1:8080/ok",  # listed (the basic config allows 127.0.0.1)
        "http://10.0.0.1/flags",  # literal, not listed
        "http://10.0.0.1:{{ alert.labels.port }}/x",  # literal host, templated port
        "{{ env.ADMIN_API }}/feature-flags/disable-all",  # templated: checked when rendered
        "http://{{ alert.labels.host }}/x",
        "https://user:pw@127.0.0.1/x",
    )

    assert errors == [
        '6: steps[1].with.url: host "10.0.0.1:80" is not in http.allowed_hosts of responder.yaml'
        " (allowed: 127.0.0.1)",
        '8: steps[2].with.url: host "10.0.0.1" is not in http.allowed_hosts of responder.yaml'
        " (allowed: 127.0.0.1)",
        "10: steps[3].with.url: env.ADMIN_API is not in templates.env of responder.yaml"
        " (templates see only those variables, and it lists none)",
        "14: steps[5].with.url: url must be an absolute http(s) URL without credentials (user:password@)",
    ]
