"""The migrations make exactly the schema of the models, and upgrade a database made by a vestis
older than the migrations without losing its rows. On SQLite always, and on PostgreSQL too when
`VESTIS_TEST_POSTGRES_URL` names a server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, select, text
from tests.support.server_process import fresh_database_url

from vestis.server.store.db import (
    BASELINE_REVISION,
    HEAD_REVISION,
    Base,
    Database,
    alembic_config,
    include_name,
    migrate,
)
from vestis.server.store.models import User
from vestis.server.store.schema import open_database


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vestis.db'}"
        return
    made = fresh_database_url()
    if made is None:
        pytest.skip("VESTIS_TEST_POSTGRES_URL is not set")
    yield made


def _differences(database: Database) -> list[object]:
    with database.engine.connect() as connection:
        opts = {"compare_type": True, "compare_server_default": True, "include_name": include_name}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def test_migrations_make_the_models_schema(url: str) -> None:
    database = Database(url)
    database.migrate()
    assert _differences(database) == []
    database.migrate()  # a second start changes nothing
    database.dispose()


def test_history_is_linear_from_the_baseline() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "two migrations claim the same parent: re-parent one"
    bases = script.get_bases()
    assert bases == [BASELINE_REVISION]


def test_the_head_revision_is_the_newest_migration() -> None:
    """`HEAD_REVISION` lets a start skip Alembic for a database at the head: a new migration
    must move it, or databases would not be upgraded to it."""
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD_REVISION]


def test_a_database_behind_the_head_is_upgraded(url: str) -> None:
    engine = create_engine(url)
    migrate(engine, "0011")
    engine.dispose()
    database = Database(url)
    database.migrate()
    assert _differences(database) == []
    with database.engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [v for (v,) in versions] == [HEAD_REVISION]
    database.dispose()


def test_a_database_at_the_head_opens_without_alembic(tmp_path: Path) -> None:
    """Every start after the first (the CLI's embedded server for each command) finds the
    database at the head: one query, and neither Alembic nor the migration scripts load."""
    url = f"sqlite:///{tmp_path / 'vestis.db'}"
    Database(url).migrate()
    check = (
        "import sys\n"
        "from vestis.server.store.db import Database\n"
        f"Database({url!r}).migrate()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _schema(url: str) -> dict[str, object]:
    """Every table's columns (by name: a column added by a migration comes last), keys,
    indexes and constraints, as the database itself reports them."""
    engine = create_engine(url)
    found = inspect(engine)
    schema: dict[str, object] = {}
    for table in found.get_table_names():
        columns = {
            c["name"]: (str(c["type"]), c["nullable"], c.get("default"))
            for c in found.get_columns(table)
        }
        schema[table] = (
            columns,
            found.get_pk_constraint(table),
            sorted(map(repr, found.get_foreign_keys(table))),
            sorted(map(repr, found.get_indexes(table))),
            sorted(map(repr, found.get_unique_constraints(table))),
            sorted(map(repr, found.get_check_constraints(table))),
        )
    with engine.connect() as connection:
        schema["alembic_version"] = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).all()
    engine.dispose()
    return schema


def test_a_new_sqlite_database_made_at_once_has_the_migrations_schema(tmp_path: Path) -> None:
    """The embedded default's first start makes the tables at once instead of running every
    migration: the same tables, columns, defaults, keys, indexes and names, stamped at the head;
    and the migrations can take it down to nothing and up again (their constraint names are
    there)."""
    at_once = f"sqlite:///{tmp_path / 'at_once.db'}"
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    database = open_database(at_once)
    assert _differences(database) == []
    database.dispose()
    migrate(create_engine(migrated))
    assert _schema(at_once) == _schema(migrated)
    assert _schema(at_once)["alembic_version"] == [(HEAD_REVISION,)]

    from alembic import command

    engine = create_engine(at_once)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    engine.dispose()
    assert _schema(at_once) == _schema(migrated)


def test_processes_opening_one_new_sqlite_database_together_make_it_once(tmp_path: Path) -> None:
    """Each takes SQLite's write lock before looking: one makes the tables, the others find
    them made and at the head. None fails or finds a half-made database."""
    url = f"sqlite:///{tmp_path / 'vestis.db'}"
    opening = (
        "from vestis.server.store.schema import open_database\n"
        f"open_database({url!r}).dispose()\n"
        "print('opened')\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", opening], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    assert [p.communicate()[0].strip() for p in processes] == ["opened"] * 4
    assert [p.returncode for p in processes] == [0] * 4
    database = Database(url)
    assert _differences(database) == []
    database.dispose()
    assert _schema(url)["alembic_version"] == [(HEAD_REVISION,)]


def test_a_database_from_before_migrations_is_upgraded_keeping_its_rows(url: str) -> None:
    """What `create_all` made before migrations existed: the baseline tables and no
    `alembic_version`. It is stamped as the baseline and upgraded; its rows stay."""
    engine = create_engine(url)
    migrate(engine, BASELINE_REVISION)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(
            text(
                "INSERT INTO users (username, password_hash, credits, created_at) "
                "VALUES ('old', 'x', 7, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()

    database = Database(url)
    database.migrate()
    assert _differences(database) == []
    with database.session() as session:
        assert session.scalar(select(User.credits).where(User.username == "old")) == 7
    tables = set(inspect(database.engine).get_table_names())
    assert "alembic_version" in tables and set(Base.metadata.tables) <= tables
    database.dispose()


def test_every_revision_downgrades_to_an_empty_database(url: str) -> None:
    engine = create_engine(url)
    migrate(engine)
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    reflected = MetaData()
    reflected.reflect(engine)
    # the job queue's own tables (Procrastinate's, on PostgreSQL) are outside the migrations
    ours = {name for name in reflected.tables if include_name(name, "table", {})}
    assert ours <= {"alembic_version"}
    engine.dispose()


def test_the_job_queue_schema_is_made_once_and_recorded() -> None:
    url = fresh_database_url()
    if url is None:
        pytest.skip("VESTIS_TEST_POSTGRES_URL is not set")
    from vestis.server.jobqueue.postgres import _migrations

    database = Database(url)
    database.migrate()
    database.migrate()  # a second start finds it up to date
    with database.engine.connect() as connection:
        applied = connection.execute(
            text("SELECT applied FROM queue_schema WHERE name = 'procrastinate'")
        ).scalar()
        made = connection.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"))
        assert made.scalar() is True
    assert applied == _migrations()[-1].name
    database.dispose()


def test_an_identity_keeps_its_photo_as_its_first_when_upgraded(url: str) -> None:
    """0013: an identity from before several photos has its one photo, check and all, as its
    first photo; its own columns are untouched."""
    from vestis.server.store.models import Identity

    engine = create_engine(url)
    migrate(engine, "0012")
    check = {"faces": 1, "findings": [{"name": "open_mouth", "message": "m"}], "figures": {}}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, password_hash, credits, created_at) "
                "VALUES ('old', 'x', 7, CURRENT_TIMESTAMP)"
            )
        )
        user_id = connection.execute(text("SELECT id FROM users WHERE username = 'old'")).scalar()
        connection.execute(
            text(
                "INSERT INTO identities (code, user_id, name, original_filename, content_sha256,"
                " blob_key, face_detected, face_metadata, description, photo_check,"
                " preprocessing_status, deleted, created_at, updated_at) VALUES ('id_old', :user,"
                " 'Old', 'old.jpg', 'abc', 'identities/old.jpg', :yes, '{\"box\": [1, 2, 3, 4]}',"
                " '{}', :check, 'completed', :no, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"user": user_id, "check": json.dumps(check), "yes": True, "no": False},
        )
    engine.dispose()

    database = Database(url)
    database.migrate()
    assert _differences(database) == []
    with database.session() as session:
        identity = session.scalar(select(Identity).where(Identity.code == "id_old"))
        assert identity is not None and identity.blob_key == "identities/old.jpg"
        [photo] = identity.photos
        assert photo.position == 0 and photo.public_id.startswith("photo_")
        assert (photo.blob_key, photo.content_sha256) == ("identities/old.jpg", "abc")
        assert photo.original_filename == "old.jpg" and photo.face_detected is True
        assert photo.photo_check == check and photo.face_metadata == {"box": [1, 2, 3, 4]}
        assert photo.face_traits is None  # measured when a swap first chooses
    database.dispose()
