"""Starting and stopping what a benchmark measures: Redis, the responder, the baseline, the peer.

Every process is started in its own session, so stopping it stops its whole tree
(gunicorn's workers, RQ's work horses and scheduler) by that one process-group id,
and nothing else on this shared machine is touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis

from responder.up import free_port, start_redis

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CONFIG_DIR = BENCH_DIR / "config"
TREE_ENV = "BENCH_RESPONDER_TREE"
"""Set by ``python -m bench ... --responder-tree PATH``: the checkout whose responder is measured."""
WEB_WORKERS = 2
"""gunicorn workers for the responder and for the baseline: one per core on this 2-core machine."""
WEB_THREADS = 4
"""gthread threads per gunicorn worker: the responder's default (RESPONDER_WEB_THREADS)."""


def responder_tree() -> Path:
    """The checkout whose ``responder`` the benchmark starts: this one, or another given by
    ``--responder-tree`` (say, main before a change), so before and after run in one session
    with the same harness."""
    return Path(os.environ.get(TREE_ENV) or REPO).resolve()


WITHOUT_HIREDIS = BENCH_DIR / "without_hiredis"


def python_path(tree: Path) -> str:
    """``PYTHONPATH`` for the responder of ``tree``: its checkout first, then this one (for ``bench``).

    A checkout whose ``pyproject.toml`` does not ask for hiredis runs without it, as it was
    installed then (:mod:`bench.without_hiredis`): redis-py would otherwise use the hiredis this
    checkout installs, and the "before" would measure a parser it never had.
    """
    parts = [str(tree), str(REPO)]
    if "hiredis" not in (tree / "pyproject.toml").read_text(encoding="utf-8"):
        parts.insert(0, str(WITHOUT_HIREDIS))
    return os.pathsep.join(parts)


@dataclass
class Proc:
    """One started process (and, through its process group, everything it forks)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        # Work horses or gunicorn workers that outlived their parent are in the same group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_http(url: str, proc: Proc, timeout: float = 30) -> None:
    """Wait until ``url`` answers (any status); raises RuntimeError with the process log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout}s:\n{proc.tail()}")


@dataclass
class Stack:
    """A private redis-server and the processes started against it during one benchmark run."""

    workdir: Path
    redis_proc: subprocess.Popen[bytes]
    redis_url: str
    procs: list[Proc] = field(default_factory=list)
    tree: Path = field(default_factory=responder_tree)
    """The checkout whose ``responder`` this stack's processes run."""

    @property
    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url)

    def env(self, prefix: str, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        # Run from bytecode as an installed package does (pip compiles .pyc on install). This
        # machine sets PYTHONDONTWRITEBYTECODE, under which every RQ work horse would recompile
        # the modules it imports lazily; the cache lives in the run's temporary directory.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.workdir / "pycache")
        for name in ("RESPONDER_WEBHOOK_TOKEN", "RESPONDER_API_TOKEN", "SLACK_BOT_TOKEN", "SMTP_HOST"):
            env.pop(name, None)  # nothing leaves this machine: unauthenticated loopback, channels skipped
        env.update(
            REDIS_URL=self.redis_url,
            RESPONDER_KEY_PREFIX=prefix,
            RESPONDER_CONFIG_DIR=str(CONFIG_DIR),
            RESPONDER_WEB_THREADS=str(WEB_THREADS),
            PYTHONPATH=python_path(self.tree),
            PYTHONUNBUFFERED="1",
            **extra,
        )
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Proc:
        """Start ``argv``; ``python -m`` imports from ``cwd`` first, which is the responder's tree
        unless given."""
        log = self.workdir / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd or self.tree,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        handle.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def responder_web(
        self,
        prefix: str,
        workers: int = WEB_WORKERS,
        env: dict[str, str] | None = None,
        tree: Path | None = None,
    ) -> tuple[Proc, str]:
        """``responder serve`` under gunicorn (gthread), of this stack's checkout or of ``tree``;
        returns it and its base URL."""
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "responder",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--allow-unauthenticated",
        ]
        environ = self.env(prefix, **(env or {}))
        if tree is not None:
            environ["PYTHONPATH"] = python_path(tree)
        proc = self.spawn(f"web-{prefix}", argv, environ, cwd=tree)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", proc)
        return proc, base

    def responder_workers(self, prefix: str, count: int, env: dict[str, str] | None = None) -> list[Proc]:
        """``count`` x ``responder worker`` (each an RQ worker serving every lane; one of them runs the
        scheduler), with ``env`` added to the benchmark's environment."""
        argv = [sys.executable, "-m", "responder", "worker"]
        given = self.env(prefix, **(env or {}))
        procs = [self.spawn(f"worker-{prefix}-{i}", argv, given) for i in range(count)]
        wait_workers(self.redis, prefix, count, procs)
        return procs

    def baseline_web(self, workers: int = WEB_WORKERS) -> tuple[Proc, str]:
        """The bare Flask app (one LPUSH per request) under the same gunicorn settings."""
        return self.bench_web("baseline", "bench.baseline_app:create_app()", "baseline", workers)

    def bench_web(self, name: str, app: str, prefix: str, workers: int = WEB_WORKERS) -> tuple[Proc, str]:
        """An app of ``bench/`` (``module:factory()``) under the responder's gunicorn settings; the
        app finds the address it serves in ``BENCH_BIND``."""
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        argv += ["--worker-class", "gthread", "--threads", str(WEB_THREADS), "--timeout", "30"]
        argv += ["--graceful-timeout", "10", "--error-logfile", "-", "--log-level", "info", app]
        env = self.env(prefix, BENCH_BIND=f"127.0.0.1:{port}")
        proc = self.spawn(name, argv, env, cwd=REPO)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", proc)
        return proc, base

    def peer_webhook(self, hooks_file: Path) -> tuple[Proc, str]:
        """adnanh/webhook serving ``hooks_file`` on loopback."""
        port = free_port()
        argv = ["webhook", "-hooks", str(hooks_file), "-ip", "127.0.0.1", "-port", str(port)]
        proc = self.spawn("webhook", argv, dict(os.environ))
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/", proc)
        return proc, base

    def stop(self, procs: list[Proc]) -> None:
        for proc in procs:
            proc.stop()
        self.procs = [p for p in self.procs if p not in procs]

    def close(self) -> None:
        self.stop(list(self.procs))
        if self.redis_proc.poll() is None:
            self.redis_proc.terminate()
            try:
                self.redis_proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.redis_proc.kill()


def wait_workers(redis: Redis, prefix: str, count: int, procs: list[Proc], timeout: float = 30) -> None:
    """Wait until ``count`` RQ workers listen on the queue and one holds the scheduler lock."""
    from rq import Queue, Worker

    queue = Queue(prefix, connection=redis)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        listening = Worker.count(queue=queue)
        scheduler = redis.exists(f"rq:scheduler-lock:{prefix}")
        if listening >= count and scheduler:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{count} RQ workers did not come up within {timeout}s:\n{procs[0].tail()}")


@contextlib.contextmanager
def stack(tree: Path | None = None) -> Iterator[Stack]:
    """A private redis-server (append-only, as ``responder up`` runs it) in a temporary directory;
    its processes run the responder of ``tree`` (default :func:`responder_tree`)."""
    with tempfile.TemporaryDirectory(prefix="responder-bench-") as tmp:
        workdir = Path(tmp)
        proc, url = start_redis(workdir / "redis", free_port())
        st = Stack(workdir, proc, url, tree=tree or responder_tree())
        try:
            yield st
        finally:
            st.close()


# -- memory ---------------------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes; PSS splits pages shared after fork fairly, so a tree's PSS sum is honest."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return rss, pss


def cpu_seconds(roots: list[int]) -> float:
    """User + system CPU seconds used so far by the live processes of the trees under ``roots``."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = _children_map()
    total = 0
    for pid in (p for root in roots for p in _tree(root, children)):
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
        total += int(fields[11]) + int(fields[12])
    return total / ticks


@dataclass
class RoleMemory:
    peak_pss_total: int = 0
    """Peak of the summed PSS of every process in the role's trees."""
    peak_rss_process: int = 0
    """Peak RSS of any single process of the role."""
    peak_processes: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since start, summed PSS)."""


class MemorySampler:
    """Samples the process trees of named roles (``{"web": [pid], "workers": [pids]}``) in a thread."""

    def __init__(self, roles: dict[str, list[int]], interval: float = 0.25) -> None:
        self.roles = roles
        self.interval = interval
        self.result = {name: RoleMemory() for name in roles}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._t0 = time.monotonic()

    def __enter__(self) -> MemorySampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                self.sample()
                return

    def sample(self) -> None:
        children = _children_map()
        now = time.monotonic() - self._t0
        for name, roots in self.roles.items():
            pids = [pid for root in roots for pid in _tree(root, children)]
            total = 0
            role = self.result[name]
            for pid in pids:
                rss, pss = _memory(pid)
                total += pss
                role.peak_rss_process = max(role.peak_rss_process, rss)
            role.peak_pss_total = max(role.peak_pss_total, total)
            role.peak_processes = max(role.peak_processes, len(pids))
            role.samples.append((now, total))
