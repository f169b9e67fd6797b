"""Values a database is given once (the URL-signing key, the studio's key, the first start's
mark): processes starting together on one database each offer theirs, and the first one stored
is the one everybody reads, without a duplicate-key error for the others."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vestis.server.store.models import ServerSecret


def put_once(db: Session, name: str, value: str) -> tuple[str, bool]:
    """The value stored under `name`, and whether it is `value`, stored just now. `INSERT ...
    ON CONFLICT DO NOTHING`: one who finds another's row not yet committed waits for it."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    offered = dialect.insert(ServerSecret).values(name=name, value=value)
    mine = db.scalar(
        offered.on_conflict_do_nothing(index_elements=["name"]).returning(ServerSecret.name)
    )
    stored = db.scalar(select(ServerSecret.value).where(ServerSecret.name == name))
    assert stored is not None
    return stored, mine is not None
