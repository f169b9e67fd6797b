"""Credit balances, changed only by single conditional SQL updates.

A balance read in Python and written back (`user.credits -= cost`) loses charges when two
requests of one user interleave (both read 4, both write 2). Here the database does the
arithmetic: a charge is `UPDATE ... SET credits = credits - cost WHERE credits >= cost`, which
either takes the whole price or changes nothing, whatever runs beside it (row lock on
PostgreSQL, one writer at a time on SQLite). v2 jobs and FASHN predictions both use these.

One lock order for every transaction that touches a user's row: `lock_user` first (before any
other row it locks: files, jobs, outputs), once, at the strength of the balance update that
follows (`FOR NO KEY UPDATE`). Taking `FOR UPDATE` after an `UPDATE users` of the same
transaction upgrades the lock, and two job creations of one user deadlocked on that upgrade;
a job row locked before the user's row (a worker's refund) against a user row locked before
a job row (a redo's charge) was a second cycle.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vestis.server.store.models import User


def lock_user(db: Session, user_id: int) -> None:
    """Lock the user's row for the rest of the transaction (PostgreSQL; on SQLite the first
    write takes the database's one write lock). Not `FOR UPDATE`: that strength also waits for
    every uncommitted insert that references the user (an upload, a token), for nothing."""
    db.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


def charge(db: Session, user_id: int, cost: float) -> bool:
    """Take `cost` from the balance if it covers it (True), else change nothing (False).
    Part of the caller's transaction: a rollback gives the credits back."""
    taken = db.execute(
        update(User)
        .where(User.id == user_id, User.credits >= cost)
        .values(credits=User.credits - cost)
        .execution_options(synchronize_session=False)
    )
    _expire_balance(db, user_id)
    return getattr(taken, "rowcount", 0) == 1


def refund(db: Session, user_id: int, amount: float) -> None:
    """Give `amount` back (a failed or aborted output); a no-op for nothing or a deleted user."""
    if amount <= 0:
        return
    db.execute(
        update(User)
        .where(User.id == user_id)
        .values(credits=User.credits + amount)
        .execution_options(synchronize_session=False)
    )
    _expire_balance(db, user_id)


def balance(db: Session, user_id: int) -> float:
    """The balance as the database has it now."""
    return float(db.scalar(select(User.credits).where(User.id == user_id)) or 0)


def _expire_balance(db: Session, user_id: int) -> None:
    """A `User` loaded in this session still holds the old number: read it again on next use."""
    for obj in list(db.identity_map.values()):
        if isinstance(obj, User) and obj.id == user_id:
            db.expire(obj, ["credits"])
