"""Opening the database: a new SQLite database (the embedded default) gets the tables made at
once and is stamped at the newest migration; any other is brought there by the migrations.

Running every migration one by one through Alembic took 0.17-0.3 s of a CLI command's first
start on a new data dir; making the tables at once takes a few milliseconds and gives the same
schema (tests/server/test_migrations.py compares the two, and downgrades and upgrades a
database made at once). PostgreSQL keeps the migrations: its servers start rarely, and
processes starting together take turns there (see `db.migrate`)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

# every module that declares tables, so `Base.metadata` knows them all (as in migrations/env)
from vestis.server.store import fashn_models, models  # noqa: F401
from vestis.server.store.db import HEAD_REVISION, Base, Database


def open_database(url: str, pool_size: int | None = None) -> Database:
    """The database at `url`, made or brought to the newest schema."""
    database = Database(url, pool_size=pool_size)
    if not (database.engine.dialect.name == "sqlite" and _made_at_once(database)):
        database.migrate()
    return database


def _made_at_once(database: Database) -> bool:
    """Make every table of a new (empty) SQLite database and stamp it at `HEAD_REVISION`, in
    one transaction; False, touching nothing, when the database has any table already."""
    with database.engine.connect() as connection:
        if inspect(connection).get_table_names():
            return False  # every start after the first: no write lock taken
    with database.engine.begin() as connection:
        # SQLite's write lock, taken before looking again, and one transaction for every table
        # (left to itself, Python's sqlite3 commits each CREATE on its own): two processes
        # opening one new database cannot both find it empty, and none finds it half made
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        if inspect(connection).get_table_names():
            return False
        Base.metadata.create_all(connection)
        _stamp(connection)
    return True


def _stamp(connection: Connection) -> None:
    """Alembic's own version table, as `alembic stamp` makes it."""
    connection.execute(
        text(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
    )
    connection.execute(
        text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": HEAD_REVISION}
    )
