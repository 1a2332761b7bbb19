"""The gateway benchmark's pure parts: wrk output, medians, added latency, targets, the docs section.

Nothing here starts a server, runs wrk or times anything; the benchmark itself is
``benchmarks/gateway.py`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import socket
import sys
import threading
import tomllib
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

WRK_LITELLM = """Running 5s test @ http://127.0.0.1:18803/v1/messages
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   233.22ms   91.41ms 841.18ms   89.53%
    Req/Sec   149.93     76.12   262.00     64.44%
  Latency Distribution
     50%  204.94ms
     75%  212.07ms
     90%  364.61ms
     99%  602.90ms
  688 requests in 5.00s, 0.91MB read
Requests/sec:    137.49
Transfer/sec:    185.83KB
"""
WRK_ERRORS = """Running 2s test @ http://127.0.0.1:1/v1/messages
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    85.50us   12.00us   1.20s    99.00%
  Latency Distribution
     50%   85.50us
     75%   90.00us
     90%    1.50ms
     99%    1.20s
  10000 requests in 1.00m, 5.00MB read
  Socket errors: connect 0, read 3, write 1, timeout 6
  Non-2xx or 3xx responses: 90
Requests/sec:    166.60
Transfer/sec:     85.30KB
"""


@pytest.fixture(scope="module")
def bench() -> dict[str, ModuleType]:
    """The benchmark's modules, imported the way ``python benchmarks/gateway.py`` imports them."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return {
            name: importlib.import_module(name) for name in ("gateway_report", "gateway", "gateway_upstream")
        }
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture
def rep(bench: dict[str, ModuleType]) -> ModuleType:
    return bench["gateway_report"]


def test_wrk_output_is_read_with_units_and_errors(rep: ModuleType) -> None:
    run = rep.parse_wrk(WRK_LITELLM)
    assert (run.requests, run.seconds, run.rps) == (688, 5.0, 137.49)
    assert (run.p50_ms, run.p90_ms, run.p99_ms) == (204.94, 364.61, 602.90)
    assert (run.non_2xx, run.socket_errors, run.error_pct) == (0, 0, 0.0)

    bad = rep.parse_wrk(WRK_ERRORS)
    assert bad.seconds == 60.0
    assert bad.p50_ms == pytest.approx(0.0855)
    assert bad.p99_ms == 1200.0
    assert (bad.non_2xx, bad.socket_errors) == (90, 10)
    assert bad.error_pct == pytest.approx(100 * 100 / 10010)


@pytest.mark.parametrize(
    ("text", "ms"), [("112.00us", 0.112), ("1.50ms", 1.5), ("2.00s", 2000.0), ("1.00m", 60000.0)]
)
def test_wrk_durations(rep: ModuleType, text: str, ms: float) -> None:
    assert rep.parse_ms(text) == pytest.approx(ms)


def test_output_without_a_result_or_latency_distribution_is_refused(rep: ModuleType) -> None:
    with pytest.raises(ValueError, match="not wrk"):
        rep.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
    without_latency = "\n".join(line for line in WRK_LITELLM.splitlines() if "%  " not in line)
    with pytest.raises(ValueError, match="--latency"):
        rep.parse_wrk(without_latency)


def _run(
    rep: ModuleType, rps: float, p50: float, p99: float, *, requests: int = 1000, non_2xx: int = 0
) -> Any:
    return rep.WrkRun(
        requests=requests, seconds=2.0, rps=rps, p50_ms=p50, p90_ms=p99, p99_ms=p99, non_2xx=non_2xx
    )


def test_a_cell_is_the_median_of_its_runs_with_cpu_per_request(rep: ModuleType) -> None:
    runs = [
        (_run(rep, 100.0, 9.0, 90.0), 1.0),
        (_run(rep, 300.0, 3.0, 30.0), 0.5),
        (_run(rep, 200.0, 5.0, 50.0, non_2xx=50), None),
    ]
    cell = rep.summarise("litellm", "json", 32, runs, peak_rss_mb=310.0)
    assert (cell.rps, cell.p50_ms, cell.p99_ms) == (200.0, 5.0, 50.0)
    assert cell.error_pct == 0.0  # median of 0%, 0%, 5%
    assert cell.cpu_ms_per_request == pytest.approx(
        0.75
    )  # median of 1.0 and 0.5 ms; the unknown run left out
    assert cell.cpu_busy_pct == pytest.approx(37.5)  # median of 50% and 25% of 2 s
    assert cell.rps_per_cpu_second == pytest.approx(1000 / 0.75)
    assert cell.runs_rps == (100.0, 300.0, 200.0)
    with pytest.raises(ValueError, match="at least one run"):
        rep.summarise("litellm", "json", 32, [])


def _cell(
    rep: ModuleType, proxy: str, mode: str, conns: int, rps: float, p50: float, p99: float, err: float = 0.0
) -> Any:
    return rep.Cell(proxy, mode, conns, rps, p50, p99, err, 0.2, 50.0)


def _results(rep: ModuleType, gateway_rps: float = 5000.0) -> list[Any]:
    cells = {
        "direct": (30000.0, 0.05, 1.0, 0.10, 2.0),
        "litellm": (150.0, 10.0, 40.0, 265.0, 723.0),
        "gateway": (gateway_rps, 0.40, 2.0, 5.0, 15.0),
    }
    out = []
    for proxy, (rps32, p50_1, p99_1, p50_32, p99_32) in cells.items():
        made = []
        for mode in ("json", "stream"):
            made.append(_cell(rep, proxy, mode, 1, rps32 / 5, p50_1, p99_1))
            made.append(_cell(rep, proxy, mode, 32, rps32, p50_32, p99_32))
            made.append(_cell(rep, proxy, mode, 64, rps32 * 2, p50_32 * 2, p99_32 * 2, err=5.0))
        rss = {"direct": 24.0, "litellm": 310.0, "gateway": 80.0}[proxy]
        ttfb = {"direct": 0.2, "litellm": 50.0, "gateway": 0.9}[proxy]
        out.append(rep.ProxyResult(proxy, tuple(made), peak_rss_mb=rss, ttfb_ms=ttfb))
    return out


def test_added_latency_ratio_and_max_rps_under_one_percent_errors(rep: ModuleType) -> None:
    results = _results(rep)
    gateway = rep.find(results, "gateway", "json", 1)
    add50, add99 = rep.added(gateway, rep.find(results, "direct", "json", 1))
    assert (add50, add99) == (pytest.approx(0.35), pytest.approx(1.0))
    assert rep.added(gateway, None) == (None, None)
    assert rep.ratio(5000.0, 150.0) == pytest.approx(33.33, rel=1e-3)
    assert rep.ratio(5000.0, 0.0) is None and rep.ratio(None, 150.0) is None
    # the 64-connection cell has twice the throughput but 5% errors: it does not count
    assert rep.max_rps(results[2], "json") == 5000.0
    assert rep.find(results, "reference", "json", 1) is None


def test_every_target_passes_or_fails_at_its_threshold(rep: ModuleType) -> None:
    passing = {v.target: v for v in rep.verdicts(_results(rep), "gateway")}
    assert len(passing) == 10 and all(v.ok for v in passing.values()), passing
    assert passing["JSON: requests/s at 32 connections ≥ 25× LiteLLM's"].shown == "33.3×"
    assert passing["streaming time to first byte within 1 ms of direct"].shown == "+0.70 ms"

    failing = {v.target: v for v in rep.verdicts(_results(rep, gateway_rps=2000.0), "gateway")}
    assert failing["JSON: requests/s at 32 connections ≥ 25× LiteLLM's"].ok is False  # 13.3×
    assert failing["JSON: max requests/s per core under 1% errors ≥ 2,500"].ok is False

    tight = rep.Targets(added_p50_ms_at_1=0.3, p99_ms_at_32=10.0, rss_mb=80.0, ttfb_added_ms=0.5)
    strict = {v.target: v.ok for v in rep.verdicts(_results(rep), "gateway", tight)}
    assert strict["JSON: added p50 at 1 connection ≤ 0.3 ms"] is False
    assert strict["streaming: p99 at 32 connections ≤ 10 ms"] is False
    assert strict["peak RSS per process < 80 MB"] is False  # 80 MB is not under 80 MB
    assert strict["streaming time to first byte within 0.5 ms of direct"] is False


def test_targets_of_a_skipped_proxy_are_not_measured(rep: ModuleType) -> None:
    results = [*_results(rep)[:2], rep.ProxyResult("gateway", skipped="not on this checkout yet")]
    verdicts = rep.verdicts(results, "gateway")
    assert {v.shown for v in verdicts} == {"not measured"}
    assert {v.ok for v in verdicts} == {None}


def test_samples_over_rounds_become_one_result(rep: ModuleType) -> None:
    samples = rep.Samples()
    for rps, rss in ((100.0, 300.0), (300.0, 310.0), (200.0, 305.0)):
        samples.add_run("json", 32, _run(rep, rps, 5.0, 50.0), 1.0, rss)
    samples.ttfb_ms += [50.0, 52.0, 51.0]
    result = samples.result("litellm")
    assert result.cells[0].rps == 200.0 and result.peak_rss_mb == 310.0 and result.ttfb_ms == 51.0
    samples.fail("round 4: exited with 1")
    assert samples.stopped and samples.result("litellm").notes == (
        "stopped after a failure, round 4: exited with 1",
    )
    empty = rep.Samples()
    empty.fail("check failed: HTTP 404")
    assert empty.stopped and empty.result("gateway").skipped == "check failed: HTTP 404"


def test_the_section_replaces_only_its_own_markers(rep: ModuleType) -> None:
    meta = rep.Meta(
        "2026-12-07", "2 cores", ".venv/bin/python benchmarks/gateway.py", "0.1", "0.2", 3, 5, 200, ""
    )
    section = rep.render(_results(rep), meta)
    assert section.startswith(rep.BEGIN) and section.endswith(rep.END)
    assert "| 32 | gateway | 5,000 | 5.00 ms | 15.00 ms | +4.90 ms | +13.00 ms |" in section
    assert "33.3× / 33.3×" in section and "**FAIL**" not in section

    doc = f"# Benchmarks\n\n<!-- BEGIN emulator -->\nE\n<!-- END emulator -->\n\n{rep.BEGIN}\nold\n{rep.END}\n\ntail\n"
    replaced = rep.replace_section(doc, section)
    assert replaced == doc.replace(f"{rep.BEGIN}\nold\n{rep.END}", section)
    assert rep.replace_section(replaced, section) == replaced
    appended = rep.replace_section("# Benchmarks\n", section)
    assert appended == "# Benchmarks\n\n" + section + "\n"


def test_the_gateway_config_names_the_key_by_its_hash(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    gateway = bench["gateway"]
    launch = gateway.gateway_launch(8080, tmp_path, "http://127.0.0.1:9", clawback=Path("/x/clawback"))
    assert launch.argv == [
        "/x/clawback",
        "gateway",
        "--port",
        "8080",
        "--config",
        str(tmp_path / "gateway.toml"),
    ]
    config = tomllib.loads((tmp_path / "gateway.toml").read_text())
    assert config["keys"][0]["key_sha256"] == hashlib.sha256(launch.client_key.encode()).hexdigest()
    assert launch.env[config["keys"][0]["upstream_key_env"]] == gateway.UPSTREAM_KEY
    assert launch.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    own = gateway.gateway_launch(1, tmp_path, "u", clawback=Path("c"), config=Path("my.toml"), key="k")
    assert (own.argv[-1], own.client_key) == ("my.toml", "k")


def test_the_mock_stream_is_the_apis_event_sequence(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    upstream, load = bench["gateway_upstream"], sys.modules["gateway_load"]
    events = [e.decode() for e in upstream.message_events("claude-haiku-5-5", 7)]
    names = [e.split("\n", 1)[0].removeprefix("event: ") for e in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    data = [json.loads(e.split("data: ", 1)[1]) for e in events]
    assert data[0]["message"]["usage"]["cache_read_input_tokens"] == 3072
    assert data[-2]["usage"]["output_tokens"] == 48
    assert upstream.PROBE_MARKER in load.request_body(stream=True, probe=True)
    assert upstream.PROBE_MARKER not in load.request_body(stream=True)
    lua = load.write_lua(tmp_path / "s.lua", stream=True, key="sk-k").read_text()
    assert '"stream":true' in lua and 'wrk.headers["x-api-key"] = "sk-k"' in lua


def test_the_probe_reads_a_chunked_response_to_its_end(bench: dict[str, ModuleType]) -> None:
    load = sys.modules["gateway_load"]
    events = b"".join(bench["gateway_upstream"]._templates("m")[1])
    response = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + events + b"0\r\n\r\n"
    left, right = socket.socketpair()
    with left, right:
        sender = threading.Thread(target=lambda: (right.sendall(response[:50]), right.sendall(response[50:])))
        sender.start()
        load._read_response(left)
        sender.join()
        right.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        load._read_response(left)
        right.close()
        assert left.recv(10) == b""  # both responses read exactly, nothing left over


def test_a_saved_run_renders_the_same_section(rep: ModuleType) -> None:
    meta = rep.Meta("2026-12-07", "2 cores", "cmd", "0.1", "0.2", 3, 5, 200, "", extra=("note",))
    results = [*_results(rep), rep.ProxyResult("reference", skipped="no venv")]
    saved = json.loads(json.dumps({"meta": asdict(meta), "results": [asdict(r) for r in results]}))
    assert rep.load_results(saved) == (results, meta)
