"""``responder check`` on bad config: the exact lines an engineer sees, one bad directory per case.

Each directory under tests/testdata/bad/ is the same minimal valid config (one rule, one
playbook, two teams) with exactly one thing broken, so each test shows one error on its own
and proves no other error is reported alongside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from responder.actions import registry
from responder.cli import main
from responder.runtime import load as load_config

TESTDATA = Path(__file__).parents[2] / "testdata"
BAD = TESTDATA / "bad"
PLAYBOOK = "playbooks/enable_conservative_mode.yaml"
RULES = "rules/10-rules.yaml"
KNOWN_ACTIONS = ", ".join(sorted(registry.ACTIONS))

# case directory -> the error lines `responder check` prints, paths relative to that directory.
CASES: dict[str, list[str]] = {
    "rule_unknown_key": [f'{RULES}:4: [0].playbook: unknown key "playbook"'],
    "step_unknown_key": [f'{PLAYBOOK}:5: steps[0].retry: unknown key "retry"'],
    "responder_unknown_key": ['responder.yaml:15: safty: unknown key "safty"'],
    "yaml_syntax_error": [
        f"{RULES}:5: YAML syntax error: expected ',' or ']', but got ':'"
        " (while parsing a flow sequence started at line 4)"
    ],
    "bad_duration": [
        f'{RULES}:6: [0].escalation.after: invalid duration "5x":'
        " use a number with a unit, like 500ms, 30s, 5m or 1h30m"
    ],
    "bare_number_duration": [f"{RULES}:8: [0].cooldown: duration 15 has no unit: write 15s or 15m"],
    "invalid_matcher": [
        f'{RULES}:2: [0].matchers[0]: invalid matcher "alertname ~= \\"APIQuotaExhaustion\\"":'
        ' expected one of =, !=, =~, !~ after "alertname"'
    ],
    "undefined_playbook": [
        f'{RULES}:4: [0].playbooks[0]: undefined playbook "enable_conservative_mod"'
        ' used in rule "api_quota_exhaustion"'
    ],
    "undefined_team": [
        "responder.yaml:8: escalation_policies.default[2][2]:"
        ' undefined team "management" used in escalation policy "default"'
    ],
    "undefined_escalation_policy": [
        f'{RULES}:6: [0].escalation.policy: undefined escalation policy "urgent"'
        ' used in rule "api_quota_exhaustion"'
    ],
    "unknown_action": [
        f'{PLAYBOOK}:5: steps[1].action: unknown action "flags.sett" (known: {KNOWN_ACTIONS})'
    ],
    "unknown_action_parameter": [
        f'{PLAYBOOK}:4: steps[0].with.reason: unknown parameter "reason"'
        " for action ratelimit.set_profile (known: profile)"
    ],
    "missing_action_parameter": [
        f'{PLAYBOOK}:4: steps[0].with.profile: missing parameter "profile" for action ratelimit.set_profile'
    ],
    "bad_template": [
        f"{PLAYBOOK}:8: steps[2].with.message: template syntax error: unexpected '}}' (template line 1)"
    ],
    "bad_when": [
        f'{PLAYBOOK}:8: steps[2].when: condition syntax error in "alert.labels.env ==":'
        " unexpected 'end of expression'"
    ],
    "undefined_flag": [
        f'{PLAYBOOK}:6: steps[1].with.flag: undefined flag "nonCriticalProcesing":'
        " add it to `flags` in responder.yaml"
    ],
    "profile_value_not_scalar": [
        "responder.yaml:11: rate_limit_profiles.conservative.retryDelaysMs:"
        " a rate-limit setting is a string, number or true/false, not a list"
    ],
    "profile_reserved_key": [
        'responder.yaml:9: rate_limit_profiles.conservative: "profile" is reserved:'
        " the rateLimits flag names the active profile there"
    ],
    "undefined_rate_limit_profile": [
        f'{PLAYBOOK}:4: steps[0].with.profile: undefined rate-limit profile "conservativ"'
    ],
    "namespace_not_allowed": [
        f'{PLAYBOOK}:10: steps[3].with.namespace: namespace "kube-system" is not in'
        " kubernetes.allowed_namespaces of responder.yaml (allowed: embedding)"
    ],
    # Files load in name order, so the later file is the duplicate.
    "duplicate_playbook": [
        f'{PLAYBOOK}:1: name: playbook "enable_conservative_mode" is already defined'
        " in playbooks/conservative_mode_copy.yaml"
    ],
    "duplicate_rule": [
        f'rules/20-more-rules.yaml:1: [0].name: rule "api_quota_exhaustion" is already defined in {RULES}'
    ],
    "duplicate_yaml_key": [f'{RULES}:6: [0].notify: duplicate key "notify" (first defined at line 4)'],
    "http_host_not_allowed": [
        f'{PLAYBOOK}:12: steps[3].with.url: host "admin.example.net:443" is not in http.allowed_hosts'
        " of responder.yaml (allowed: admin.example.com, *.internal.example.com)"
    ],
    "bad_allowed_host": [
        'responder.yaml:16: http.allowed_hosts[0]: "https://admin.example.com/" is not a host:'
        " write a name, an IP, host:port or *.suffix, without scheme or path"
    ],
    "secret_outside_headers": [
        f"{PLAYBOOK}:10: steps[3].with.message: secret.NAME is only available in http.request header"
        " values: secrets never reach a timeline, message or page"
    ],
    "env_not_in_templates_env": [
        f"{PLAYBOOK}:10: steps[3].with.message: env.ADMIN_API is not in templates.env of responder.yaml"
        " (templates see only those variables: CLUSTER_NAME)"
    ],
    "env_var_in_playbook": [
        f"{PLAYBOOK}:10: steps[3].with.message: ${{SLACK_SIGNING_SECRET}} is not in templates.env of"
        " responder.yaml: playbooks see only those variables (a secret goes in an http.request header as"
        " {{ secret.SLACK_SIGNING_SECRET }})"
    ],
    "access_user_name": [
        'responder.yaml:18: access.slack.ack[1]: "@bob" is not a Slack user id (U… or W…), user-group id'
        " (S…) or \"*\": names change, ids do not (a profile's ⋮ menu → Copy member ID; a group's id is in"
        " its URL)"
    ],
    "access_bad_team_id": [
        'responder.yaml:17: access.slack.team_id: "acme-corp" is not a Slack workspace id'
        " (T followed by capitals and digits)"
    ],
    "bad_storm": [f"{RULES}:8: [0].storm.max_incidents: Input should be greater than or equal to 1 (got 0)"],
    "storm_not_a_mapping": [f"{RULES}:8: [0].storm: storm is {{max_incidents: N, per: DURATION}} or off"],
    "bad_flapping": [f"{RULES}:8: [0].flapping.per: per must be longer than 0s"],
    "bad_automation": [
        f"{RULES}:8: [0].automation: Input should be 'auto', 'confirm' or 'off' (got 'manual')"
    ],
    "verify_else_undefined": [
        f'{RULES}:10: [0].verify.else[0]: undefined playbook "pause_everything"'
        ' used in rule "api_quota_exhaustion"'
    ],
    "verify_confirm_on_failure": [
        f"{RULES}:9: [0].verify: page: on_failure cannot hold the page of a rule with automation: confirm:"
        " its runs wait for a Run click, so people are paged at open to give it; use page: always,"
        " or automation: auto"
    ],
    "wrong_type_retries": [
        f"{PLAYBOOK}:5: steps[0].retries:"
        " Input should be a valid integer, unable to parse string as an integer (got 'three')"
    ],
}


def check(directory: Path) -> Result:
    return CliRunner().invoke(main, ["check", "--config", str(directory)])


def test_every_bad_directory_has_a_case() -> None:
    assert sorted(p.name for p in BAD.iterdir() if p.is_dir()) == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_prints_the_exact_error_and_exits_1(case: str) -> None:
    directory = BAD / case

    result = check(directory)

    expected = [f"{directory}/{line}" for line in CASES[case]]
    assert result.stderr.splitlines() == [
        f"config: {directory} (--config)",
        *expected,
        f"{len(expected)} error(s) in {directory}",
    ]
    assert result.stdout == ""
    assert result.exit_code == 1


def test_check_on_valid_config_prints_a_summary_and_each_rules_storm_and_flapping_limit_and_exits_0(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "config"
    shutil.copytree(TESTDATA / "config" / "basic", directory)
    with (directory / "rules" / "10-rules.yaml").open("a") as rules:
        rules.write("  storm: {max_incidents: 50, per: 5m}\n")  # the last rule, templated
        rules.write("  flapping: {max_opens: 5, per: 30m}\n")
    (directory / "rules" / "20-calm.yaml").write_text(
        "- {name: calm, matchers: ['alertname = \"Calm\"'], storm: off, flapping: off}\n"
    )

    result = check(directory)

    assert result.stdout.splitlines() == [
        f"ok: 5 rules, 6 playbooks, 2 teams, 4 flags in {directory}",
        "storm guard (new incidents per rule, then one storm incident): 25 per 10m: api_quota_exhaustion,"
        " flaky, slow; 50 per 5m: templated; off: calm",
        "flapping brake (opens per incident key, then automation suspended): 3 opens per 1h:"
        " api_quota_exhaustion, flaky, slow; 5 opens per 30m: templated; off: calm",
    ]
    assert result.exit_code == 0


def test_check_warns_when_rules_verify_but_alertmanager_url_is_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "config"
    shutil.copytree(TESTDATA / "config" / "basic", directory)
    with (directory / "rules" / "10-rules.yaml").open("a") as rules:
        rules.write("  verify: {after: 2m}\n")  # the last rule, templated
    monkeypatch.delenv("ALERTMANAGER_URL", raising=False)

    result = check(directory)

    assert (
        "warning: rules templated verify their fixes, but ALERTMANAGER_URL is not set: every check will be"
        " verify.unknown, treated as not fixed"
    ) in result.stderr.splitlines()
    assert result.exit_code == 0


def test_check_reports_every_error_of_a_directory_at_once(tmp_path: Path) -> None:
    # Two unrelated mistakes: fixing one and re-running to find the next wastes a CI round trip.
    directory = tmp_path / "config"
    shutil.copytree(BAD / "undefined_playbook", directory)
    (directory / PLAYBOOK).write_text(
        (directory / PLAYBOOK).read_text().replace("flag: nonCriticalProcessing", "flag: nope")
    )

    result = check(directory)

    assert result.stderr.splitlines() == [
        f"config: {directory} (--config)",
        f'{directory}/{RULES}:4: [0].playbooks[0]: undefined playbook "enable_conservative_mod"'
        ' used in rule "api_quota_exhaustion"',
        f'{directory}/{PLAYBOOK}:6: steps[1].with.flag: undefined flag "nope":'
        " add it to `flags` in responder.yaml",
        f"2 error(s) in {directory}",
    ]
    assert result.exit_code == 1


INTERPOLATED = """\
teams:
  dev-team:
    slack: ${DEV_SLACK:-#dev}
    email: [dev@example.com]
    pagerduty: ${PD_ROUTING_KEY_DEV}
  ops-team: {slack: "#ops", email: [ops@example.com], pagerduty: "${PD_ROUTING_KEY_OPS}"}
"""


@pytest.fixture
def interpolated_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(TESTDATA / "config" / "basic", directory)
    main_file = directory / "responder.yaml"
    rest = main_file.read_text().split("escalation_policies:", 1)[1]
    main_file.write_text(INTERPOLATED + "escalation_policies:" + rest)
    return directory


def test_env_vars_and_defaults_are_interpolated(
    interpolated_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PD_ROUTING_KEY_DEV", "R0UTINGKEYDEV")
    monkeypatch.setenv("PD_ROUTING_KEY_OPS", "R0UTINGKEYOPS")
    monkeypatch.delenv("DEV_SLACK", raising=False)

    config = load_config(interpolated_dir)

    assert config.responder.teams["dev-team"].pagerduty == "R0UTINGKEYDEV"
    assert config.responder.teams["ops-team"].pagerduty == "R0UTINGKEYOPS"
    assert config.responder.teams["dev-team"].slack == "#dev"
    assert [w for w in config.warnings if "is not set" in w] == []


def test_env_var_overrides_its_default(interpolated_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEV_SLACK", "C0DEVCHANNEL")
    monkeypatch.setenv("PD_ROUTING_KEY_DEV", "x")
    monkeypatch.setenv("PD_ROUTING_KEY_OPS", "y")

    assert load_config(interpolated_dir).responder.teams["dev-team"].slack == "C0DEVCHANNEL"


def test_unset_env_var_without_default_is_a_warning_with_file_line_and_key(
    interpolated_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PD_ROUTING_KEY_DEV", "R0UTINGKEYDEV")
    monkeypatch.delenv("PD_ROUTING_KEY_OPS", raising=False)

    result = check(interpolated_dir)

    warning = (
        "warning: responder.yaml:6: teams.ops-team.pagerduty:"
        " ${PD_ROUTING_KEY_OPS} is not set; it expands to an empty string"
    )
    assert warning in result.stderr.splitlines()
    assert "PD_ROUTING_KEY_DEV" not in result.stderr
    assert result.stdout.startswith("ok: 4 rules, 6 playbooks, 2 teams, 4 flags")
    assert result.exit_code == 0


def test_rule_with_playbooks_but_no_notify_channel_is_warned_about() -> None:
    config = load_config(TESTDATA / "config" / "basic")
    assert (
        "rules/10-rules.yaml:1: rule api_quota_exhaustion runs playbooks but has no `notify` channels: "
        "if a step fails, nobody is paged"
    ) in config.warnings


DISAGREEING_PROFILES = """\
rate_limit_profiles:
  conservative: {maxConcurrentRequests: 2, requestsPerMinute: 30, tokensPerMinute: 50000}
  balanced: {maxConcurrentRequests: 4, requestsPerMinute: 50}
  aggressive: {maxConcurrentRequests: 6, burstAllowance: 12}
"""


def test_profiles_that_disagree_on_their_keys_are_warned_about(tmp_path: Path) -> None:
    # Switching from conservative to balanced would silently drop tokensPerMinute from rateLimits.
    directory = tmp_path / "config"
    shutil.copytree(TESTDATA / "config" / "basic", directory)
    main_file = directory / "responder.yaml"
    before, rest = main_file.read_text().split("rate_limit_profiles:\n", 1)
    main_file.write_text(before + DISAGREEING_PROFILES + rest[rest.index("flags:") :])

    result = check(directory)

    assert (
        "warning: responder.yaml:8: rate_limit_profiles: profiles disagree on their keys; switching to a"
        " profile without a key drops that setting from the rateLimits flag:"
        " requestsPerMinute is in conservative, balanced but not aggressive;"
        " tokensPerMinute is in conservative but not balanced, aggressive;"
        " burstAllowance is in aggressive but not conservative, balanced"
    ) in result.stderr.splitlines()
    assert result.exit_code == 0
