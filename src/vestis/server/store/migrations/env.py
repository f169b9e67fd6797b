"""Alembic's environment: runs on the connection `Database.migrate()` hands over (or on the URL
of `alembic.ini`-less command-line use through `vestis.server.store.db.alembic_config`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

# every module that declares tables, so `Base.metadata` knows them all (the tables import the
# database's base; the database imports no table)
from vestis.server.store import fashn_models, models  # noqa: F401
from vestis.server.store.db import Base, include_name

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
