"""Rate-limit profiles hold the managed app's own settings: any keys, applied as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from responder.cli import main
from responder.runtime import Runtime
from responder.webhook.app import create_app
from tests.helpers import alert, body, drain

SMALL_PROFILES = """\
rate_limit_profiles:
  conservative: {maxConcurrentRequests: 1, requestsPerMinute: 10}
  balanced: {maxConcurrentRequests: 4, requestsPerMinute: 50}
"""


@pytest.fixture
def config_dir(config_dir: Path) -> Path:
    """The shared test config with profiles that set only two of the seed's six keys."""
    main_file = config_dir / "responder.yaml"
    text, count = re.subn(
        r"rate_limit_profiles:\n(?:  .*\n|    .*\n)+", SMALL_PROFILES, main_file.read_text()
    )
    assert count == 1
    main_file.write_text(text)
    return config_dir


def test_a_profile_with_only_some_of_the_seed_keys_passes_check(config_dir: Path) -> None:
    result = CliRunner().invoke(main, ["check", "--config", str(config_dir)])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 4 rules, 6 playbooks")
    assert "rate_limit_profiles" not in result.stderr  # they agree on their keys: nothing to warn about


def test_set_profile_applies_a_profile_with_any_keys(runtime: Runtime) -> None:
    client = create_app(runtime).test_client()

    response = client.post(
        "/webhook/alertmanager", data=body(alert("APIQuotaExhaustion")), content_type="application/json"
    )
    assert response.get_json() == {"accepted": 1, "duplicates": 0}
    drain(runtime)

    # The api_quota_exhaustion rule's playbook runs ratelimit.set_profile(conservative).
    assert client.get("/api/flags").get_json()["rateLimits"] == {
        "profile": "conservative",
        "maxConcurrentRequests": 1,
        "requestsPerMinute": 10,
    }
