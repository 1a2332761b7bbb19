"""The clawback gateway: the Claude API served through clawback, for any language or tool.

Nothing is imported here (``import clawback.gateway`` pulls in no server or database driver):

* :mod:`~clawback.gateway.app` — the ASGI app and :func:`~clawback.gateway.app.build_gateway`
* :mod:`~clawback.gateway.config` — the config file, resolved (keys hashed, secrets read)
* :mod:`~clawback.gateway.messages`, :mod:`~clawback.gateway.passthrough`,
  :mod:`~clawback.gateway.batches`, :mod:`~clawback.gateway.pages` — the routes
* pure core: :mod:`~clawback.gateway.keys`, :mod:`~clawback.gateway.budgets`,
  :mod:`~clawback.gateway.ratelimit`, :mod:`~clawback.gateway.sse_usage`,
  :mod:`~clawback.gateway.metrics`, :mod:`~clawback.gateway.dashboard`, :mod:`~clawback.gateway.wire`
* edges: :mod:`~clawback.gateway.upstream` (its own HTTP/1.1 client on httptools),
  :mod:`~clawback.gateway.state` (budgets in memory + SQLite, or PostgreSQL),
  :mod:`~clawback.gateway.policy` (the client's pipeline), :mod:`~clawback.gateway.shared_metrics`
  (``/metrics`` summed over ``--workers N``)
"""
