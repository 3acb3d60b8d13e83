"""``kubernetes.scale``'s ``autoscaler`` parameter: what the params model accepts, and what
``responder check`` says, with file and line, about a step that gets it wrong."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from responder.actions.kubernetes import ScaleParams
from responder.cli import main

BASIC = Path(__file__).parents[2] / "testdata" / "config" / "basic"
TARGET = {"namespace": "embedding", "deployment": "embedding-queue-workers"}


@pytest.mark.parametrize(
    ("params", "autoscaler"),
    [
        ({"replicas": 2}, "refuse"),
        ({"by": 1, "autoscaler": "adjust"}, "adjust"),
        ({"autoscaler": "restore"}, "restore"),
    ],
)
def test_refuse_is_the_default_adjust_needs_a_count_and_restore_takes_none(
    params: dict[str, Any], autoscaler: str
) -> None:
    assert ScaleParams.model_validate({**TARGET, **params}).autoscaler == autoscaler


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"autoscaler": "restore", "replicas": 2},
            "`autoscaler: restore` puts back what the last `autoscaler: adjust` changed and takes no "
            "`replicas`; remove it, or use `autoscaler: adjust` to scale",
        ),
        (
            {"autoscaler": "restore", "by": 1, "max": 4},
            "`autoscaler: restore` puts back what the last `autoscaler: adjust` changed and takes no "
            "`by` or `max`; remove them, or use `autoscaler: adjust` to scale",
        ),
        (
            {"autoscaler": "adjust"},
            "give exactly one of `replicas` or `by` (only `autoscaler: restore` takes neither)",
        ),
    ],
)
def test_autoscaler_and_counts_that_do_not_go_together_are_refused(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        ScaleParams.model_validate({**TARGET, **params})

    [error] = err.value.errors()
    assert error["msg"] == f"Value error, {message}"


PLAYBOOK = """\
name: restore_workers
steps:
  - action: kubernetes.scale
    with:
      namespace: embedding
      deployment: embedding-queue-workers
      autoscaler: restore
      replicas: 2
  - action: kubernetes.scale
    with: {namespace: embedding, deployment: embedding-queue-workers, autoscaler: ajust, by: 1}
"""


def test_check_reports_a_bad_autoscaler_step_with_file_and_line(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(BASIC, directory)
    with (directory / "responder.yaml").open("a") as f:
        f.write("kubernetes:\n  allowed_namespaces: [embedding]\n")
    (directory / "playbooks" / "restore_workers.yaml").write_text(PLAYBOOK)

    result = CliRunner().invoke(main, ["check", "--config", str(directory)])

    playbook = directory / "playbooks" / "restore_workers.yaml"
    assert result.stderr.splitlines() == [
        f"config: {directory} (--config)",
        f"{playbook}:4: steps[0].with: `autoscaler: restore` puts back what the last `autoscaler: adjust` "
        "changed and takes no `replicas`; remove it, or use `autoscaler: adjust` to scale "
        "(action kubernetes.scale)",
        f"{playbook}:10: steps[1].with.autoscaler: Input should be 'refuse', 'adjust' or 'restore' "
        "(action kubernetes.scale)",
        f"2 error(s) in {directory}",
    ]
    assert result.exit_code == 1
