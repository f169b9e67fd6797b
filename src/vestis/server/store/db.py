"""Database engine and sessions (SQLAlchemy 2). SQLite in the data dir by default; the schema is
made and upgraded by the Alembic migrations in `vestis.server.store.migrations`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import tenacity
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

#: Constraint names as PostgreSQL makes them, so a database made by `create_all` before the
#: migrations existed has the names the migrations expect.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

MIGRATIONS = Path(__file__).parent / "migrations"
#: The revision whose schema is what `create_all` made before vestis had migrations.
BASELINE_REVISION = "0001"
#: The newest migration's revision (a test holds it to Alembic's head). A database already
#: there is opened without loading Alembic and its migration scripts.
HEAD_REVISION = "0013"
_AFTER_COMMIT = "vestis.after_commit"

log = logging.getLogger("vestis.server.store.db")
T = TypeVar("T")

#: SQLSTATEs with which PostgreSQL ends a transaction to break a deadlock (40P01) or to keep
#: transactions serialisable (40001): the same work, run again, succeeds.
CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})
#: Runs of one unit of work before its conflict is let through (as a 500).
CONFLICT_ATTEMPTS = 6


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str, pool_size: int | None = None) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so workers and requests coexist.
    `pool_size`: connections kept for as many threads as may hold one at once (a thread that
    finds the pool empty waits, and after 30 s its request fails)."""
    pool = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 8}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def alembic_config(connection: Connection | None = None, url: str | None = None):  # type: ignore[no-untyped-def]
    """An Alembic `Config` for vestis's migrations, on `connection` (or `url`)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


#: Key of the advisory lock that serialises schema changes of processes starting together.
SCHEMA_LOCK = 7_151_330_011


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For Alembic: the job queue's own tables (Procrastinate's) are not vestis's models."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database of `engine` to `revision`. A database made by a vestis older than the
    migrations (tables, no `alembic_version`) is stamped as the baseline first. On PostgreSQL,
    processes starting together take turns, and the job queue's schema follows (see
    `vestis.server.jobqueue.postgres.ensure_schema`)."""
    with engine.begin() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        # a database at the head already (every start after the first) is left as it is,
        # without loading Alembic and its scripts
        if not (revision == "head" and _at_head(connection)):
            from alembic import command

            config = alembic_config(connection)
            tables = set(inspect(connection).get_table_names())
            if "alembic_version" not in tables and "users" in tables:
                command.stamp(config, BASELINE_REVISION)
            command.upgrade(config, revision)
        if postgres and revision == "head":
            from vestis.server.jobqueue.postgres import ensure_schema

            ensure_schema(connection)


def _at_head(connection: Connection) -> bool:
    """Whether the database's `alembic_version` names `HEAD_REVISION` alone (one query; a new
    database has no such table)."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return list(versions) == [HEAD_REVISION]


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's current transaction has committed; forgotten if it
    rolls back. For what must follow a change but cannot be part of it (waking an in-process
    worker, pushing an event to this process's open streams)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:  # the change is committed; a failed follow-up must not undo it
            log.exception("after-commit callback %r failed", callback)


def _forget_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def is_conflict(exc: BaseException) -> bool:
    """Whether the database ended the transaction for a conflict with another one."""
    orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else None
    return getattr(orig, "sqlstate", None) in CONFLICT_SQLSTATES


def _log_conflict(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "transaction conflict (attempt %d), running it again: %s", state.attempt_number, error
    )


def retry_conflicts(session: Session, work: Callable[[], T]) -> T:
    """Run `work` (which uses `session`) and commit; when the database ends the transaction
    for a deadlock or a serialisation failure, roll back and run the whole of it again, a few
    times, after a short random pause: a client never sees a 500 for another request's
    locks. `work` must be safe to run again after a rollback (side effects outside the
    database go in `after_commit`)."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_conflict),
        stop=tenacity.stop_after_attempt(CONFLICT_ATTEMPTS),
        wait=tenacity.wait_random_exponential(multiplier=0.02, max=0.5),
        before_sleep=_log_conflict,
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            try:
                result = work()
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result
    raise AssertionError("unreachable: tenacity reraises the last conflict")


class Database:
    """The engine plus a session factory; `migrate` makes or upgrades the schema."""

    def __init__(self, url: str, pool_size: int | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "after_commit", _run_after_commit)
        event.listen(self.sessions, "after_rollback", _forget_after_commit)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
