"""The load generator: an asyncio HTTP/1.1 client (aiohttp) with keep-alive, on loopback only.

Two shapes: :func:`closed_loop` keeps ``concurrency`` requests in flight for a fixed
time (throughput and latency at fixed concurrency), and :func:`send_all` sends a
fixed list of bodies and returns every answer (storm, peer, latency runs).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

JSON = {"Content-Type": "application/json"}


def _loopback_only(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"benchmarks send traffic to loopback only, not to {host}")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class LoadResult:
    requests: int
    """Requests completed inside the measured window."""
    errors: int
    """Of those, answers other than 200 and transport errors."""
    seconds: float
    latencies: list[float]
    """Seconds, one per request completed inside the window."""
    client_cpu: float
    """Share of one core the load generator itself used during the window (it competes with the server)."""
    statuses: dict[str, int] = field(default_factory=dict)
    total_requests: int = 0
    """Requests completed during warm-up and window together (for CPU per request)."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _closed_loop(
    url: str, make_body: Callable[[int], bytes], concurrency: int, duration: float, warmup: float
) -> LoadResult:
    counter = itertools.count()
    completed = itertools.count()
    start = time.perf_counter()
    window = (start + warmup, start + warmup + duration)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    cpu_mark: list[float] = []

    async def user(session: aiohttp.ClientSession) -> None:
        while True:
            sent = time.perf_counter()
            if sent >= window[1]:
                return
            if sent >= window[0] and not cpu_mark:
                cpu_mark.append(_cpu_seconds())
            body = make_body(next(counter))
            try:
                async with session.post(url, data=body, headers=JSON) as response:
                    await response.read()
                    status = str(response.status)
            except aiohttp.ClientError as exc:
                status = type(exc).__name__
            done = time.perf_counter()
            next(completed)
            if window[0] <= sent and done <= window[1]:
                latencies.append(done - sent)
                statuses[status] = statuses.get(status, 0) + 1

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(user(session) for _ in range(concurrency)))
    cpu = _cpu_seconds() - (cpu_mark[0] if cpu_mark else _cpu_seconds())
    errors = sum(n for s, n in statuses.items() if s != "200")
    return LoadResult(len(latencies), errors, duration, latencies, cpu / duration, statuses, next(completed))


def closed_loop(
    url: str, make_body: Callable[[int], bytes], *, concurrency: int, duration: float, warmup: float
) -> LoadResult:
    """Keep ``concurrency`` POSTs in flight for ``warmup + duration`` seconds; measure the last part."""
    _loopback_only(url)
    return asyncio.run(_closed_loop(url, make_body, concurrency, duration, warmup))


@dataclass
class Answer:
    index: int
    sent: float
    """Wall-clock (time.time()) when the request was sent."""
    latency: float
    status: int
    body: Any


async def _send_all(
    url: str, bodies: Sequence[bytes], concurrency: int, pace: float, headers: dict[str, str]
) -> list[Answer]:
    answers: list[Answer] = []
    queue = iter(enumerate(bodies))
    start = time.perf_counter()

    async def user(session: aiohttp.ClientSession) -> None:
        for index, body in queue:
            if pace:
                # Open loop at a fixed rate: request i leaves at start + i x pace, whatever came before.
                delay = start + index * pace - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_wall, sent = time.time(), time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    raw = await response.read()
                    status = response.status
            except aiohttp.ClientError as exc:
                raw, status = str(exc).encode(), 0
            try:
                parsed: Any = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode(errors="replace")
            answers.append(Answer(index, sent_wall, time.perf_counter() - sent, status, parsed))

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(user(session) for _ in range(concurrency)))
    return sorted(answers, key=lambda a: a.index)


def send_all(
    url: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    pace: float = 0.0,
    headers: dict[str, str] | None = None,
) -> list[Answer]:
    """POST every body, ``concurrency`` at a time (or one every ``pace`` seconds); answers in order."""
    _loopback_only(url)
    return asyncio.run(_send_all(url, bodies, concurrency, pace, headers or JSON))
