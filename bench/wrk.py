"""Load from ``wrk`` (Debian package ``wrk``): a C client, so the load costs the servers little CPU.

The Python client (bench/load.py) used most of a core of the same 2 cores the servers ran
on, and so capped and skewed what it measured. ``wrk`` keeps ``connections`` keep-alive
connections busy from ``threads`` threads; a Lua script (written here) makes each request's
body from a template, replacing every ``@I@`` with ``<thread>-<n>``, so every request
carries alerts no other request carries, and counts each thread's answers by status class.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

THREADS = 2
CONNECTIONS = 16
PLACEHOLDER = "@I@"
CDF_POINTS = (*range(1, 100), 99.5, 99.9)
"""Latency percentiles kept per run: enough to draw the CDF without wrk's per-request samples."""

# `setup` runs in the main Lua state once per thread; `request`/`response` in each thread's own
# state; `done` in the main state again, reading the threads' counters back.
_SCRIPT = r"""
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local template = [==[@TEMPLATE@]==]
local run = "@RUN@"
local n = 0
ok, bad = 0, 0

function request()
  n = n + 1
  local body = template:gsub("@PLACEHOLDER@", run .. "t" .. tid .. "n" .. n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_bad = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_bad = total_bad + t:get("bad")
  end
  local cdf = {}
  for _, p in ipairs({@POINTS@}) do
    table.insert(cdf, string.format("[%s,%d]", p, latency:percentile(p)))
  end
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"duration_us":%d,"ok":%d,"non_2xx":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"latency_mean_us":%f,"latency_max_us":%d,"cdf_us":[%s]}\n',
    summary.requests, summary.duration, total_ok, total_bad,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency.mean, latency.max, table.concat(cdf, ",")))
end
"""


@dataclass
class WrkResult:
    requests: int
    """Requests completed (wrk counts those answered)."""
    seconds: float
    ok: int
    """2xx answers."""
    non_2xx: int
    socket_errors: dict[str, int]
    cdf_ms: list[tuple[float, float]]
    """(percentile, latency in ms)."""
    latency_mean_ms: float
    latency_max_ms: float
    client_cpu_seconds: float
    """CPU (user + system) wrk itself used: what the load took from the servers' 2 cores."""
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The latency (ms) at percentile ``p`` (the nearest recorded one at or above it)."""
        for point, value in self.cdf_ms:
            if point >= p:
                return value
        return self.cdf_ms[-1][1]


def available() -> bool:
    return shutil.which("wrk") is not None


def script(template: str, run: str) -> str:
    """The Lua script for one run: ``template`` is the request body with ``@I@`` placeholders."""
    if "]==]" in template:
        raise ValueError("the body template must not contain ]==] (it is a Lua long string)")
    points = ",".join(str(p) for p in CDF_POINTS)
    return (
        _SCRIPT.replace("@TEMPLATE@", template)
        .replace("@RUN@", run)
        .replace("@PLACEHOLDER@", PLACEHOLDER)
        .replace("@POINTS@", points)
    )


def run(
    url: str,
    template: str,
    run_id: str,
    *,
    seconds: float,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
    timeout: float = 10.0,
) -> WrkResult:
    """POST bodies made from ``template`` to ``url`` for ``seconds`` with wrk; loopback only.

    Raises:
        RuntimeError: wrk is not installed, or it printed no result (its output is in the message).
    """
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"benchmarks send traffic to loopback only, not to {host}")
    if not available():
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        lua = Path(tmp) / "post.lua"
        lua.write_text(script(template, run_id))
        argv = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout:g}s",
            "-s",
            str(lua),
            url,
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + timeout + 30)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK-RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("WRK-RESULT "))
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        ok=raw["ok"],
        non_2xx=raw["non_2xx"],
        socket_errors={k: raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")},
        cdf_ms=[(float(p), us / 1000) for p, us in raw["cdf_us"]],
        latency_mean_ms=raw["latency_mean_us"] / 1000,
        latency_max_ms=raw["latency_max_us"] / 1000,
        client_cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        raw=raw,
    )
