"""A workload for the durability tests: record calls forever, print each id once record() returned.

usage: python tests/ledger/workload.py LOCATION MODE [MAX_QUEUE] [COUNT]

Each line on standard output is the id of a call whose ``record()`` has returned to its caller;
the parent kills this process with SIGKILL mid-way and checks the ledger against what it read.
"""

from __future__ import annotations

import sys

from clawback.ledger import CallRecord, WriterOptions, open_writer

USAGE = {"input_tokens": 1200, "output_tokens": 80, "cache_read_input_tokens": 4000}
SHAPE = {"v": 1, "model": "claude-haiku-5-5", "auto": None, "overhead": 3, "blocks": []}


def main(argv: list[str]) -> None:
    location, mode = argv[0], argv[1]
    max_queue = int(argv[2]) if len(argv) > 2 else 1000
    count = int(argv[3]) if len(argv) > 3 else 10**9
    options = WriterOptions(
        mode=mode,  # type: ignore[arg-type]
        max_queue=max_queue,
        batch_size=max(1, max_queue // 2),
        flush_interval_s=0.05,
        retry_min_s=0.01,
        retry_max_s=0.05,
    )
    writer = open_writer(location, options=options)
    out = sys.stdout
    for i in range(count):
        rec = CallRecord.create(
            "claude-haiku-5-5",
            served_model="claude-haiku-5-5",
            task=f"task-{i % 3}",
            usage=USAGE,
            shape=SHAPE,
            total_usd="0.0016",
            latency_ms=1.0,
        )
        writer.record(rec)
        out.write(rec.id + "\n")
        out.flush()
    writer.close()


if __name__ == "__main__":
    main(sys.argv[1:])
