"""The control API under /_emulator/."""

from __future__ import annotations

import httpx2

from clawback.emulator.testing import EmulatorSession

from .helpers import assert_error, body, text


def test_control_api(emu: EmulatorSession) -> None:
    with httpx2.Client(base_url=emu.base_url) as http:
        assert http.get("/_emulator/health").json() == {"ok": True}
        before = http.get("/_emulator/clock").json()
        assert before["mode"] == "manual"
        after = http.post("/_emulator/clock/advance", json={"seconds": 300}).json()
        assert after["now"] == before["now"] + 300
        assert_error(
            http.post("/_emulator/clock/advance", json={"seconds": -1}),
            400,
            "invalid_request_error",
            "seconds",
        )
        assert_error(
            http.post("/_emulator/clock/advance", content=b"[1]"), 400, "invalid_request_error", "object"
        )
        for absurd in (b'{"seconds": 1e999}', b'{"seconds": 1e300}', b'{"seconds": "soon"}'):
            assert_error(http.post("/_emulator/clock/advance", content=absurd), 400, "invalid_request_error")
        assert http.get("/_emulator/clock").json()["now"] == after["now"]  # the clock still works

        params = body(system=[text(800, ttl="5m")])
        emu.client.messages.create(**params)
        stats = http.get("/_emulator/stats").json()
        assert stats["requests"] == {"messages": 1} and stats["cache_entries"] == 1
        assert stats["usage"][0]["cache_write_5m_input_tokens"] > 0

        log = http.get("/_emulator/log", params={"after": 0}).json()
        record = log["data"][0]
        assert log["last_seq"] == 1 and record["endpoint"] == "messages" and record["status"] == 200
        assert (
            record["model"] == "claude-haiku-5-5"
            and record["params_hash"]
            and record["key"].startswith("sk-ant-…")
        )
        assert "emulator-test-key" not in str(log)

        assert http.post("/_emulator/script", json={"replies": [{"content": "scripted!"}]}).json() == {
            "pending": 1
        }
        assert emu.client.messages.create(**body()).content[0].text == "scripted!"
        assert_error(
            http.post("/_emulator/script", json={"replies": [{"content": 5}]}), 400, "invalid_request_error"
        )

        faults = {"faults": [{"kind": "overloaded", "nth": [1]}]}
        assert http.put("/_emulator/faults", json=faults).json() == {"faults": 1, "batch_faults": 0}
        assert (
            http.post("/v1/messages", json=body(), headers={"anthropic-version": "2023-06-01"}).status_code
            == 529
        )
        http.put("/_emulator/faults", json={})

        assert http.post("/_emulator/reset").json() == {"ok": True}
        assert http.get("/_emulator/stats").json()["cache_entries"] == 0
        assert http.get("/_emulator/log").json() == {"data": [], "last_seq": 0}
