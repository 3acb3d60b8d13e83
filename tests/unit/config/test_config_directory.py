"""Which config directory a command runs on, and that it says which and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from responder.cli import main

ROOT = Path(__file__).resolve().parents[3]
BASIC = Path(__file__).parents[2] / "testdata" / "config" / "basic"


@pytest.fixture(autouse=True)
def no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESPONDER_CONFIG_DIR", raising=False)


def check(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", *args])


def test_without_a_responder_yaml_here_the_built_in_defaults_are_used_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = check()

    # From a checkout, the built-in defaults are the checkout's own top-level files.
    assert result.stderr.splitlines()[0] == (
        f"config: {ROOT} (built-in defaults: no responder.yaml in the current directory)"
    )
    assert result.stdout.startswith("ok: 8 rules, 11 playbooks")
    assert result.exit_code == 0


def test_a_responder_yaml_in_the_current_directory_wins_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BASIC)

    result = check()

    assert result.stderr.splitlines()[0] == f"config: {BASIC} (the current directory has a responder.yaml)"
    assert result.stdout.startswith("ok: 4 rules, 6 playbooks")


def test_the_environment_beats_the_current_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("RESPONDER_CONFIG_DIR", str(BASIC))

    result = check()

    assert result.stderr.splitlines()[0] == f"config: {BASIC} (RESPONDER_CONFIG_DIR)"
    assert result.stdout.startswith("ok: 4 rules, 6 playbooks")


def test_config_option_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESPONDER_CONFIG_DIR", str(BASIC))

    result = check("--config", str(ROOT))

    assert result.stderr.splitlines()[0] == f"config: {ROOT} (--config)"
    assert result.stdout.startswith("ok: 8 rules, 11 playbooks")
