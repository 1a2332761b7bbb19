"""The runner against the emulator, in process, on the emulator's manual clock (sleeping advances it)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clawback.batch import BatchRunner, JobOptions, Journal, Limits, SdkUpstream
from clawback.batch.machine import Backoff
from clawback.emulator.config import BatchConfig, BatchFaultRule, EmulatorConfig, FaultRule
from clawback.errors import BatchJobError, InputFileError, UsageError
from clawback.pricing.loader import load_catalogue
from tests.batch.support import Emu, check_exactly_once, emulator, read_output, write_input

CATALOGUE = load_catalogue()
POLICY = Backoff(
    first_poll=30, max_poll=3600, retry_base=1, retry_max=60, recover_grace=5, max_failures=12, max_sleep=3600
)


class Crash(BaseException):
    """Stands in for the process dying at a crash point."""


def crash_at(n: int) -> Callable[[str], None]:
    """A crash hook that raises at its ``n``-th call."""
    seen = [0]

    def hook(label: str) -> None:
        seen[0] += 1
        if seen[0] == n:
            raise Crash(label)

    return hook


def runner(journal: Journal, emu: Emu, crash: Callable[[str], None] | None = None) -> BatchRunner:
    """A runner on the emulator's clock; sleeping moves the clock."""
    clock = emu.clock
    return BatchRunner(
        journal,
        SdkUpstream(emu.client),
        catalogue=CATALOGUE,
        clock=clock.now,
        sleep=lambda seconds: clock.advance(max(seconds, 0.001)),
        policy=POLICY,
        crash=crash,
    )


def start(
    journal: Journal, emu: Emu, source: Path, out: Path, name: str = "job", **options: Any
) -> BatchRunner:
    """Create the job (nothing sent yet) and return a runner for it."""
    r = runner(journal, emu)
    opts = JobOptions(limits=Limits(max_requests=options.pop("batch_size", 10)), **options)
    r.create(r.new_job(source, out, name=name, options=opts))
    return r


FAULTY = EmulatorConfig(
    clock="manual",
    batch=BatchConfig(seconds=600),
    faults=(FaultRule(kind="api_error", endpoint="batches", nth=(2, 5)),),
    batch_faults=(
        BatchFaultRule(result="errored", rate=0.08),
        BatchFaultRule(result="expired", rate=0.05),
        BatchFaultRule(result="errored", rate=0.04, error_type="invalid_request_error", message="bad"),
    ),
)


def test_happy_path_every_line_once_with_costs(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 25)
    with emulator() as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
        summary = r.run("job")
        lines = check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
    assert summary.state == "done" and summary.outcomes == {"succeeded": 25} and summary.batches == 3
    assert all(line["outcome"] == "succeeded" and line["usage"]["service_tier"] == "batch" for line in lines)
    assert summary.totals.total_cost == sum(__import__("decimal").Decimal(line["cost_usd"]) for line in lines)
    assert summary.totals.standard == 2 * summary.totals.cost
    ids_by_line = {line["line"]: line["id"] for line in lines}
    assert ids_by_line[4] == "ticket #3 / ünïcode" and ids_by_line[6] == 5


def test_faults_retries_and_invalid_request_errors(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 60)
    with emulator(FAULTY, every=3, first_404=True) as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_size=20)
        summary = r.run("job")
        lines = check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
        assert emu.flaky.injected[404] >= 3 and emu.state.stats.faults["api_error"] == 2
    retried = [line for line in lines if line["attempts"] > 1]
    assert retried, "some items should have been retried"
    # some items end with invalid_request_error, reported as such (that it is never retried is
    # test_invalid_request_errors_are_not_retried's job, where every item gets it on its first try)
    assert any(
        line["outcome"] == "errored" and line["error"]["type"] == "invalid_request_error" for line in lines
    )
    assert summary.state == "done" and summary.finished == 60


def test_invalid_request_errors_are_not_retried(tmp_path: Path) -> None:
    config = EmulatorConfig(
        clock="manual",
        batch_faults=(
            BatchFaultRule(result="errored", rate=1.0, error_type="invalid_request_error", message="no"),
        ),
    )
    ids = write_input(tmp_path / "in.jsonl", 5)
    with emulator(config) as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl").run("job")
        lines = check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
    assert {(line["outcome"], line["attempts"]) for line in lines} == {("errored", 1)}


def test_a_batch_past_24_hours_expires_and_is_retried(tmp_path: Path) -> None:
    config = EmulatorConfig(clock="manual", batch=BatchConfig(seconds=100 * 3600))
    ids = write_input(tmp_path / "in.jsonl", 10)
    with emulator(config) as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        summary = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl").run("job")
        lines = check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
    outcomes = {line["outcome"] for line in lines}
    assert outcomes == {"succeeded", "expired"} and summary.batches == 3
    assert all(line["attempts"] == 3 for line in lines if line["outcome"] == "expired")


def _run_counting(emu: Emu, case: Path, name: str) -> int:
    seen = [0]
    write_input(case / f"{name}.jsonl", 20)
    with Journal.open(case / f"{name}.sqlite3") as journal:
        r = start(journal, emu, case / f"{name}.jsonl", case / f"{name}.out", name=name)
        r.crash = r.collector.crash = lambda label: seen.__setitem__(0, seen[0] + 1)
        r.run(name)
    return seen[0]


# Every third crash point by default (every one takes about 25 s); CLAWBACK_BATCH_EXHAUSTIVE=1 runs them all.
EVERY = 1 if os.environ.get("CLAWBACK_BATCH_EXHAUSTIVE") else 3


def test_killed_at_every_crash_point_and_resumed(tmp_path: Path) -> None:
    with emulator(FAULTY, every=4, first_404=True) as emu:
        total = _run_counting(emu, tmp_path, "count")
        assert total > 20
        for n in range(1 + (total % EVERY), total + 1, EVERY):
            name = f"crash{n}"
            ids = write_input(tmp_path / f"{name}.jsonl", 20)
            with Journal.open(tmp_path / f"{name}.sqlite3") as journal:
                r = start(journal, emu, tmp_path / f"{name}.jsonl", tmp_path / f"{name}.out", name=name)
                tag = journal.job(name).tag
                r.crash = r.collector.crash = crash_at(n)
                with contextlib.suppress(Crash):  # faults are shared, so a run may pass fewer points
                    r.run(name)
            with Journal.open(tmp_path / f"{name}.sqlite3") as journal:
                summary = runner(journal, emu).run(name)
            check_exactly_once(tmp_path / f"{name}.out", ids, emu, max_attempts=3, tag=tag)
            assert summary.state == "done", n


def test_create_that_returned_but_was_not_recorded_is_found_not_resent(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 10)
    with emulator() as emu:
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
            r.crash = crash_at_label("create:returned")
            with pytest.raises(Crash):
                r.run("job")
            assert len(emu.batch_items()) == 10
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            summary = runner(journal, emu).run("job")
            kinds = [kind for _, _, kind, _ in journal.events("job")]
        check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
    assert "found" in kinds and summary.batches == 1 and len(emu.batch_items()) == 10


def crash_at_label(label: str) -> Callable[[str], None]:
    """A crash hook that raises the first time it sees ``label``."""

    def hook(seen: str) -> None:
        if seen == label:
            raise Crash(seen)

    return hook


def test_a_foreign_batch_of_the_same_size_is_disowned(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 4)
    with emulator() as emu:
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
            r.crash = crash_at_label("chunk:intend")
            with pytest.raises(Crash):
                r.run("job")
        # Another program creates a batch of the same size in the same workspace.
        stranger = [
            {
                "custom_id": f"other-{i}",
                "params": {
                    "model": "claude-haiku-5-5",
                    "max_tokens": 4,
                    "messages": [{"role": "user", "content": "x"}],
                },
            }
            for i in range(4)
        ]
        emu.client.messages.batches.create(requests=stranger)
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            summary = runner(journal, emu).run("job")
            kinds = [kind for _, _, kind, _ in journal.events("job")]
        lines = read_output(tmp_path / "out.jsonl")
        assert sorted(map(str, (line["id"] for line in lines))) == sorted(map(str, ids))
    assert "disowned" in kinds and summary.outcomes == {"succeeded": 4}


def test_canceling_a_job_never_cancels_a_batch_adopted_without_proof(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 4)
    with emulator(EmulatorConfig(clock="manual", batch=BatchConfig(seconds=600))) as emu:
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
            r.crash = crash_at_label("chunk:intend")
            with pytest.raises(Crash):
                r.run("job")
        params = {
            "model": "claude-haiku-5-5",
            "max_tokens": 4,
            "messages": [{"role": "user", "content": "x"}],
        }
        stranger = emu.client.messages.batches.create(
            requests=[{"custom_id": f"other-{i}", "params": params} for i in range(4)]
        )
        notes: list[str] = []
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            r = runner(journal, emu)
            r.notice = notes.append
            assert r.cancel("job")
            summary = r.run("job")
            kinds = [kind for _, _, kind, _ in journal.events("job")]
        lines = read_output(tmp_path / "out.jsonl")
        theirs = emu.client.messages.batches.retrieve(stranger.id)
    assert "found" in kinds and "disowned" in kinds and "cancel_sent" not in kinds
    assert theirs.request_counts.succeeded == 4 and theirs.cancel_initiated_at is None
    assert summary.state == "canceled" and sorted(map(str, (line["id"] for line in lines))) == sorted(
        map(str, ids)
    )
    assert {line["outcome"] for line in lines} == {"canceled"}
    assert any(stranger.id in note and "cannot be proved" in note for note in notes), notes


def test_cancel_collects_what_completed(tmp_path: Path) -> None:
    config = EmulatorConfig(clock="manual", batch=BatchConfig(seconds=1000))
    ids = write_input(tmp_path / "in.jsonl", 30)
    with emulator(config) as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_size=10)
        polls = [0]

        def hook(label: str) -> None:
            if label == "chunk:polled":
                polls[0] += 1
                if polls[0] == 2:
                    journal.request_cancel("job")

        r.crash = hook
        summary = r.run("job")
        lines = read_output(tmp_path / "out.jsonl")
    assert summary.state == "canceled"
    assert len(lines) == len(ids) and {line["outcome"] for line in lines} <= {"succeeded", "canceled"}
    assert summary.outcomes.get("succeeded", 0) > 0 and summary.outcomes.get("canceled", 0) > 0


def test_warm_cache_turns_writes_into_reads(tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", 20)
    with emulator() as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_size=20, warm_cache=True)
        summary = r.run("job")
    t = summary.totals
    assert t.warmups == 1 and t.cache_write_1h_tokens > 0
    assert t.cache_read_tokens >= 19 * 1000
    assert t.cache_saving > 0 and t.saving_vs_standard > t.batch_saving


def test_bad_input_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", 3)
    with (tmp_path / "in.jsonl").open("a") as handle:
        handle.write('{"model": "claude-haiku-5-5", "messages": [{"role": "user", "content": "x"}]}\n{oops\n')
    with emulator() as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        r = runner(journal, emu)
        with pytest.raises(
            InputFileError,
            match=r"2 invalid lines.*line 4: max_tokens: Field required.*line 5: not valid JSON",
        ):
            r.create(r.new_job(tmp_path / "in.jsonl", tmp_path / "out.jsonl", name="job"))
        assert journal.jobs() == [] and emu.batch_items() == []
        report = r.create(
            r.new_job(
                tmp_path / "in.jsonl",
                tmp_path / "out.jsonl",
                name="job",
                options=JobOptions(skip_invalid=True),
            )
        )
        assert (report.valid, report.invalid_count) == (3, 2)
        r.run("job")
        lines = read_output(tmp_path / "out.jsonl")
    assert sorted(line["outcome"] for line in lines) == [
        "invalid",
        "invalid",
        "succeeded",
        "succeeded",
        "succeeded",
    ]


def test_duplicate_ids_are_an_error_naming_the_lines(tmp_path: Path) -> None:
    body = {"model": "claude-haiku-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps({"id": i % 3, **body}) for i in range(5)) + "\n")
    with emulator() as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        r = runner(journal, emu)
        with pytest.raises(InputFileError, match=r"id 0 appears on 2 lines \(lines 1 and 4\)"):
            r.create(r.new_job(tmp_path / "in.jsonl", tmp_path / "out.jsonl", name="job"))
        assert journal.jobs() == []


def test_spend_cap_refuses_to_submit(tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", 5)
    with emulator() as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        r = runner(journal, emu)
        opts = JobOptions(max_cost=__import__("decimal").Decimal("0.000001"))
        with pytest.raises(UsageError, match="over --max-cost"):
            r.create(r.new_job(tmp_path / "in.jsonl", tmp_path / "out.jsonl", name="job", options=opts))
        assert journal.jobs() == [] and emu.batch_items() == []


def test_a_second_runner_is_refused_while_one_holds_the_job(tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", 2)
    with emulator() as emu, Journal.open(tmp_path / "j.sqlite3") as journal:
        start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
        with (
            Journal.open(tmp_path / "j.sqlite3") as other,
            other.runner_lock("job"),
            pytest.raises(BatchJobError, match="being run by another process"),
        ):
            runner(journal, emu).run("job")


def test_output_deleted_midway_is_rebuilt_from_the_journal(tmp_path: Path) -> None:
    ids = write_input(tmp_path / "in.jsonl", 20)
    with emulator() as emu:
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
            r.crash = crash_at_label("output:recorded")
            with pytest.raises(Crash):
                r.run("job")
        (tmp_path / "out.jsonl").unlink()
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            runner(journal, emu).run("job")
            kinds = [kind for _, _, kind, _ in journal.events("job")]
        check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=3)
    assert "output_rebuilt" in kinds


def test_a_reached_spend_cap_stops_the_job_and_resume_finishes_it(tmp_path: Path) -> None:
    """The spend-cap 429 (no retry-after) is not retried into; after it resets, resume sends once."""
    config = EmulatorConfig(
        clock="manual", faults=(FaultRule(kind="spend_limit", endpoint="batches", nth=(1,)),)
    )
    ids = write_input(tmp_path / "in.jsonl", 8)
    with emulator(config) as emu:
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            r = start(journal, emu, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
            with pytest.raises(
                BatchJobError, match="spend limit is reached.*clawback batch resume job"
            ) as info:
                r.run("job")
            cause = info.value.__cause__
            assert cause is not None and getattr(cause, "error_code", None) == "enforced_spend_limit_reached"
            assert emu.batch_items() == [] and emu.state.stats.faults["spend_limit"] == 1
        with Journal.open(tmp_path / "j.sqlite3") as journal:
            summary = runner(journal, emu).run("job")
        check_exactly_once(tmp_path / "out.jsonl", ids, emu, max_attempts=1)
    assert summary.state == "done" and summary.outcomes == {"succeeded": 8}
