"""The audit: where the money went in API logs, and what each technique would save (``clawback audit``).

Layout, from the edges in::

    discover     which files to read: paths, folders walked, Claude Code's log folders
    loading      every input into the store: format, reader or fast path, one record per call
    readers/     one reader per log format, each turning its input into AuditRecords (+ detect)
    fastpath     JSON-lines logs and transcripts read, checked and loaded inside DuckDB
    fastpath_sql   ... and the SQL that does it
    store        DuckDB: records streamed in by batches, deduplicated, tasks assigned, priced in SQL
    pricing_sql  the catalogue as dated rates, and the SQL that prices with them (exact)
    queries      totals by task, model, day and token kind; the unpriced bucket; chart series
    usage_views  daily, weekly, monthly, per session and 5-hour blocks (``clawback usage``)
    caching      the caching replay (clawback.cache.replay) fed from the store, per policy
    scenarios    one SQL pass re-pricing calls routed, batched, re-cached or capped
    evaluate     each technique alone and stacked per (task, model)
    records, tasks, simulate, evaluation, techniques, recommend, results, summary
                 the pure analysis: no I/O, no database
    rules        the rules file: its format, and its loader
    report/      the HTML report (the only module that knows HTML)
    engine       run_audit(): the one entry point
    sample       the demo's generated two-week log

Nothing is imported here: ``from clawback.audit.engine import run_audit``.
"""
