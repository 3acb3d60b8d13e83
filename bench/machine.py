"""What the figures were measured on: the machine and the versions of everything involved."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.procs import REPO, responder_tree


def _run(*argv: str, cwd: Path = REPO) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"
    return (out.stdout or out.stderr).strip()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def commit() -> str:
    """The commit of the responder being measured (``--responder-tree`` or this checkout)."""
    return commit_of(responder_tree())


def commit_of(tree: Path) -> str:
    return _run("git", "rev-parse", "--short", "HEAD", cwd=tree)


def describe() -> dict[str, Any]:
    mem_kib = 0
    try:
        with open("/proc/meminfo") as handle:
            mem_kib = int(handle.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    from bench.peer import webhook_version

    return {
        "nproc": _run("nproc"),
        "cpu": _cpu_model(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis_server": _run("redis-server", "--version"),
        "packages": {
            p: _version(p)
            for p in ("redis", "rq", "Flask", "gunicorn", "pydantic", "aiohttp", "hiredis", "matplotlib")
        },
        "webhook": webhook_version(),
        "py_spy": _run("py-spy", "--version"),
        "wrk": _run("wrk", "-v").splitlines()[0] if _run("wrk", "-v") else "not installed",
        "commit": _run("git", "rev-parse", "--short", "HEAD"),
        "dirty_files_outside_bench": len(
            [
                line
                for line in _run("git", "status", "--porcelain").splitlines()
                # _run strips the output, and with it the first line's leading status blank
                if line and not line.split(maxsplit=1)[-1].startswith(("bench/", "docs/"))
            ]
        ),
        "loadavg": os.getloadavg(),
    }
