"""Database migrations (Alembic). `Database.migrate()` brings any vestis database, new or made by
an older vestis, to the schema of `vestis.server.store.models`. The one other way tables are
made: `store.schema` makes a new, empty SQLite database's tables at once and stamps it at the
newest revision, the same schema (the tests compare the two).

Imports only `store` (the tables of `models` and `fashn_models`).

A schema change is a model change plus a new revision in `versions/` (linear history: each
revision's `down_revision` is the previous head). `tests/server/test_migrations.py` fails when the
models and the migrations disagree.
"""
