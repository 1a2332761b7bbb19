"""Storage helpers shared by the ledger and the batch journal: locations, migrations, connections.

Nothing is imported here, so ``import clawback.storage`` pulls in no database driver:

* :mod:`clawback.storage.location` — a path or ``postgresql://`` URL, resolved and masked (pure).
* :mod:`clawback.storage.migrations` — ordered named migrations plus an applied table, one logical
  schema written for both SQLite and PostgreSQL.
* :mod:`clawback.storage.sqlite` — WAL-mode SQLite connections.
* :mod:`clawback.storage.postgres` — psycopg 3 connections (the ``postgres`` extra).
"""
