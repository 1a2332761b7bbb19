"""DuckDB as the audit loads it: the engine's own module, without the package's Python layer.

``import duckdb`` loads DuckDB's C++ extension (``_duckdb``, which the package ships with its own
type stubs) and then a Python layer the audit never uses: the relational and expression APIs,
Arrow hooks and a look-up of the package's version, about 60 ms of CPU on every ``clawback audit``
or ``usage`` run (measured with ``python -X importtime``). The audit needs only connections,
their SQL and appenders, and the exception classes, which are the extension's own (``duckdb``
re-exports the same objects). Where the extension can't be imported under that name (another
packaging of DuckDB), the package is used.
"""

from __future__ import annotations

try:
    import _duckdb as duckdb
except ImportError:  # pragma: no cover - every duckdb wheel from 1.4 on ships _duckdb
    import duckdb  # type: ignore[no-redef]

__all__ = ["duckdb"]
