"""The gateway benchmark's moving parts: pinned server processes, wrk runs, the streaming probe.

Used by ``benchmarks/gateway.py``; no measurement policy here (which proxies, how many runs) and no
report (``gateway_report.py``). Processes are read from /proc: CPU time as user plus system ticks of
every process of a server, memory as ``VmHWM``. Every server starts in its own session and is stopped
through its process group, so nothing it spawned outlives it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gateway_report as report

MODEL = "claude-haiku-5-5"
CLIENT_KEY = "sk-ant-bench-client-0000000000000000"  # what wrk sends to direct, reference and LiteLLM
PROXY_CPU, LOAD_CPU = 0, 1
SYSTEM = (
    "You are a support-ticket classifier for an invoicing product. Read the ticket and answer with one"
    " label from: billing, bug, feature_request, account, other. Then give one short sentence of reason."
    " Never invent facts that are not in the ticket. "
)
TICKET = (
    "Hello, our invoice for November shows the annual plan twice and the total is $1,284.50. We were"
    " told in October that the upgrade would be prorated. Could you split the payment in two and send a"
    " corrected invoice to the finance address on file? Thanks, Dana (ticket-4711)"
)


@dataclass(frozen=True, slots=True)
class Launch:
    """How to start one proxy: its command, extra environment, and the API key clients send to it."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    client_key: str = CLIENT_KEY


# ---------------------------------------------------------------- processes


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinning() -> bool:
    """True when processes can be pinned to CPUs (taskset and at least two cores)."""
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1


def wrk_missing() -> bool:
    """True when wrk is not on PATH."""
    return shutil.which("wrk") is None


def _pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if pinning() else []


def _tree(pid: int) -> list[int]:
    """``pid`` and its living descendants, from /proc."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return pids


def _cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time of ``pids`` (processes that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAWBACK_", "LITELLM_"))}
    return {**env, **extra}


class Server:
    """One server process pinned to a CPU, in its own session so that stopping it stops its children."""

    def __init__(self, name: str, launch: Launch, port: int, cpu: int, log: Path) -> None:
        self.name, self.launch, self.port, self.log = name, launch, port, log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*_pin(cpu), *launch.argv],
                env=_clean_env(launch.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=log.parent,
            )

    def pids(self) -> list[int]:
        """The server's processes now."""
        return _tree(self.proc.pid)

    def cpu_seconds(self) -> float:
        """CPU time the server's living processes have used."""
        return _cpu_seconds(self.pids())

    def peak_rss_mb(self) -> float:
        """The largest VmHWM among the server's processes."""
        return max((_vm_hwm_mb(pid) for pid in self.pids()), default=0.0)

    def wait_ready(self, timeout: float) -> None:
        """Until one JSON call through the server answers 200; raises RuntimeError with the log's tail."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                status, _ = _call(self.port, request_body(stream=False), self.launch.client_key)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s ({last}): {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the server printed."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the server's process group, then SIGKILL to whatever of the group is left after 20 s."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):  # the group is gone once all of its members are
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@contextmanager
def running(name: str, launch: Launch, port: int, cpu: int, log: Path, timeout: float) -> Iterator[Server]:
    """A started, answering server (its output in ``log``); stopped on the way out."""
    server = Server(name, launch, port, cpu, log)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- load and probes


def request_body(*, stream: bool, probe: bool = False) -> bytes:
    """The Messages body every proxy is sent (the probe's carries the mock's slow-tail marker)."""
    text = TICKET + (" [ttfb-probe]" if probe else "")
    body = {
        "model": MODEL,
        "max_tokens": 256,
        "system": SYSTEM * 3,
        "messages": [{"role": "user", "content": text}],
        **({"stream": True} if stream else {}),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _headers(key: str, length: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": key,
        "content-length": str(length),
    }


def _call(port: int, body: bytes, key: str, timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/messages", body=body, headers=_headers(key, len(body)))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def check_proxy(port: int, key: str) -> str | None:
    """None when one JSON call returns usage and one streamed call ends with message_stop."""
    status, data = _call(port, request_body(stream=False), key)
    if status != 200 or b'"usage"' not in data:
        return f"JSON call: HTTP {status} {data[:200]!r}"
    status, data = _call(port, request_body(stream=True), key)
    if status != 200 or b"message_delta" not in data or b"message_stop" not in data:
        return f"streamed call: HTTP {status} {data[:200]!r}"
    return None


def write_lua(path: Path, *, stream: bool, key: str) -> Path:
    """A wrk script POSTing the benchmark's Messages body with the API's headers."""
    body = request_body(stream=stream).decode()
    if "'" in body or "\\" in body:
        raise ValueError("the body must fit in a Lua single-quoted string")
    lines = ['wrk.method = "POST"', f"wrk.body = '{body}'"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in _headers(key, 0).items() if k != "content-length"]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(port: int, lua: Path, seconds: float, connections: int) -> report.WrkRun:
    """One wrk run pinned to the load CPU."""
    cmd = [
        *_pin(LOAD_CPU),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    done = subprocess.run(
        [*cmd, "-s", str(lua), f"http://127.0.0.1:{port}/v1/messages"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return report.parse_wrk(done.stdout)


def _read_response(sock: socket.socket) -> float:
    """Read one HTTP response off ``sock``; returns when its first body byte arrived (perf_counter)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed before the headers")
        buf += data
    first = time.perf_counter()
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").lower().split("\r\n")
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    if not rest:
        rest = sock.recv(65536)
        first = time.perf_counter()
    if "chunked" in headers.get("transfer-encoding", ""):
        while not (rest.endswith(b"\r\n0\r\n\r\n") or rest == b"0\r\n\r\n"):
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed mid-stream")
            rest += data
    else:
        length = int(headers.get("content-length", "0").strip())
        while len(rest) < length:
            rest += sock.recv(65536)
    return first


def probe_ttfb(port: int, key: str, requests: int) -> tuple[list[float], list[float]]:
    """Times to the first body byte and to the last byte, in ms, of ``requests`` sequential streamed calls."""
    body = request_body(stream=True, probe=True)
    head = "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in _headers(key, len(body)).items()
    )
    request = head.encode() + b"\r\n" + body
    firsts, lasts = [], []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(requests + 5):  # the first five warm the connection up
            start = time.perf_counter()
            sock.sendall(request)
            first = _read_response(sock)
            end = time.perf_counter()
            if i >= 5:
                firsts.append((first - start) * 1000)
                lasts.append((end - start) * 1000)
    return firsts, lasts
