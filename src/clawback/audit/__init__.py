"""The audit: where the money went in API logs, and what each technique would save (``clawback audit``).

Layout, from the edges in::

    readers/     one reader per log format, each turning its input into AuditRecords (+ detect)
    store        DuckDB: records streamed in by batches, tasks assigned, every call priced in SQL
    pricing_sql  the catalogue as dated rates, and the SQL that prices with them (exact)
    queries      totals by task, model, day and token kind; the unpriced bucket; chart series
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
