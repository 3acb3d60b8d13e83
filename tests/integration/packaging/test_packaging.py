"""The wheel a user installs carries the default config and runs on it from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_an_installed_wheel_runs_on_the_default_config_from_any_directory(tmp_path: Path) -> None:
    # What `pip install .` does: build the wheel with the project's build backend, then
    # install it with its dependencies into a fresh environment, away from the checkout.
    run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--wheel-dir", tmp_path / "dist")
    [wheel] = (tmp_path / "dist").glob("alert_responder-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESPONDER_", "PYTHON"))}

    done = subprocess.run(
        [str(venv / "bin" / "responder"), "check"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    [site_packages] = (venv / "lib").glob("python3*/site-packages")
    defaults = site_packages / "responder" / "defaults"
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"ok: 8 rules, 11 playbooks, 3 teams, 7 flags in {defaults}"
    assert f"config: {defaults} (built-in defaults: no responder.yaml in the current directory)" in (
        done.stderr.splitlines()
    )
    # The files in the wheel are the repository's own, byte for byte.
    for name in ("responder.yaml", "rules/20-incident-responses.yaml", "playbooks/full_rollback.yaml"):
        assert (defaults / name).read_bytes() == (ROOT / name).read_bytes()
    # The dashboard's templates and static files (htmx) travel in the package too.
    dashboard = site_packages / "responder" / "dashboard"
    for name in ("templates/dashboard/base.html", "static/htmx.min.js", "static/htmx.min.js.README"):
        assert (dashboard / name).read_bytes() == (ROOT / "responder" / "dashboard" / name).read_bytes()
