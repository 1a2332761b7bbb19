"""Two gateway processes on one PostgreSQL: a daily budget holds across them under 32 clients."""

from __future__ import annotations

import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest

from clawback.emulator.app import create_app
from clawback.emulator.server import running
from clawback.ledger.api import open_ledger
from tests.gateway.procs import gateway_process
from tests.gateway.support import GATEWAY_KEY, UPSTREAM_KEY, sha

pytestmark = pytest.mark.postgres

LIMIT = Decimal("0.0008")
MAX_TOKENS = 50
BODY = {
    "model": "claude-haiku-5-5",
    "max_tokens": MAX_TOKENS,
    "messages": [{"role": "user", "content": "ping the sea"}],
}


def test_budget_holds_across_two_processes_with_32_clients(pg_database: str, tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(
        f'ledger = "{pg_database}"\n[[keys]]\nname = "alpha"\nkey_sha256 = "{sha(GATEWAY_KEY)}"\n'
        f'upstream_key_env = "ALPHA_UPSTREAM"\ndaily_usd = "{LIMIT}"\n'
    )
    with running(create_app()) as emulator_url:
        env = {
            "ANTHROPIC_BASE_URL": emulator_url,
            "ALPHA_UPSTREAM": UPSTREAM_KEY,
            "CLAWBACK_HOME": str(tmp_path / "h"),
        }
        with (
            gateway_process(config, env, log=tmp_path / "a.log") as a,
            gateway_process(config, env, log=tmp_path / "b.log") as b,
        ):
            outcomes: Counter[str] = Counter()
            refusals: list[dict[str, object]] = []
            lock = threading.Lock()

            def client(n: int) -> None:
                url = (a, b)[n % 2]
                with httpx2.Client(timeout=30) as http:
                    for _ in range(40):
                        r = http.post(
                            url + "/v1/messages",
                            json=BODY,
                            headers={"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"},
                        )
                        with lock:
                            outcomes[f"{url}:{r.status_code}"] += 1
                            if r.status_code != 200:
                                refusals.append(r.json())
                        if r.status_code != 200:
                            return

            threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            metrics = httpx2.get(a + "/metrics").text
            # read from the shared ledger: both processes' calls, once their writers have written
            # them (each hands a row to its writer just after the response is sent)
            count = f"<b>{sum(outcomes[f'{u}:200'] for u in (a, b)):,}</b><span>requests</span>"
            for _ in range(50):
                dashboard = httpx2.get(b + "/").text
                if count in dashboard:
                    break
                time.sleep(0.1)
    served = {u: outcomes[f"{u}:200"] for u in (a, b)}
    assert all(n > 0 for n in served.values()), outcomes  # both processes served
    assert refusals, "the budget never refused anyone"
    for body in refusals:
        error = body["error"]
        assert isinstance(error, dict) and error["type"] == "invalid_request_error"
        assert "daily budget of key 'alpha'" in str(error["message"]) and "resets at" in str(error["message"])
    with open_ledger(pg_database) as ledger:
        rows = list(ledger.iter_records())
    assert len(rows) == sum(served.values())  # every served call has its row, refused ones none
    spent = sum((Decimal(r.total_usd or 0) for r in rows), Decimal(0))
    worst = _worst_case()
    assert spent <= LIMIT + worst  # the documented bound (in fact spend stays under the limit itself)
    import psycopg

    with psycopg.connect(pg_database) as conn:
        db_spent, db_reserved = conn.execute(
            "SELECT spent, reserved FROM clawback_gateway_budget WHERE scope = 'key:alpha' AND period = 'day'"
        ).fetchone()  # type: ignore[misc]
    assert db_spent == spent  # no lost update: the shared window equals the ledger's sum exactly
    assert db_reserved == 0  # every reservation settled
    assert 'budget_limit_usd{scope="key:alpha",period="day"}' in metrics
    assert f"<b>{sum(served.values()):,}</b><span>requests</span>" in dashboard


def _worst_case() -> Decimal:
    import json
    from datetime import UTC, datetime

    from clawback.gateway.budgets import worst_case_cost
    from clawback.pricing.loader import load_catalogue

    info = load_catalogue().resolve("claude-haiku-5-5")
    return worst_case_cost(
        info,
        body_bytes=len(json.dumps(BODY)),
        max_tokens=MAX_TOKENS,
        day=datetime.now(UTC).date(),
        cache_writes=False,
    )
