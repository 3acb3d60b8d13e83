"""The CLI refuses what cannot be an incident or run id before it asks the API (docs/operations.md)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from responder.cli import main
from responder.up import free_port


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # Nothing listens here: an id that reached the API would fail with "cannot reach the responder".
    monkeypatch.setenv("RESPONDER_URL", f"http://127.0.0.1:{free_port()}")
    return CliRunner()


@pytest.mark.parametrize("command", [["incidents", "show"], ["incidents", "ack"], ["incidents", "resolve"]])
@pytest.mark.parametrize("incident_id", ["0123456789ab:timeline", "ABCDEF012345", "0123456789a", "../x"])
def test_an_odd_incident_id_is_a_usage_error_naming_the_rule(
    cli: CliRunner, command: list[str], incident_id: str
) -> None:
    result = cli.invoke(main, [*command, incident_id])

    assert result.exit_code == 2
    assert f"Invalid value for 'INCIDENT_ID': {incident_id!r} is not an incident id: " in result.output
    assert "incident ids are 12 lowercase hex digits" in result.output
    assert "cannot reach" not in result.output


@pytest.mark.parametrize("run_id", ["run-42", "0123456789abcdef:approving", "0123456789ABCDEF"])
def test_an_odd_run_id_is_a_usage_error_naming_the_rule(cli: CliRunner, run_id: str) -> None:
    result = cli.invoke(main, ["approve", run_id, "--by", "carol"])

    assert result.exit_code == 2
    assert f"{run_id!r} is not a run id: run ids are 16 lowercase hex digits" in result.output
    assert "cannot reach" not in result.output


def test_a_well_formed_id_goes_to_the_api(cli: CliRunner) -> None:
    result = cli.invoke(main, ["incidents", "show", "0123456789ab"])

    assert result.exit_code == 1
    assert "cannot reach the responder" in result.output
