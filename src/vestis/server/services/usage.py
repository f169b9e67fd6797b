"""What the upstream services cost, per user and per engine (`vestis usage`): the upstream
credits recorded on every output a remote engine made (v2 jobs) and on every FASHN prediction
this server ran on one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vestis.server.store.fashn_models import FashnPrediction
from vestis.server.store.models import Job, JobOutput, User


@dataclass(frozen=True)
class UsageRow:
    user: str
    engine: str
    outputs: int
    upstream_credits: float


def upstream_usage(
    db: Session, since: datetime | None = None, user: str | None = None
) -> list[UsageRow]:
    """One row per (user, engine) with the outputs made and their upstream credits, users in
    name order; outputs made before engines were recorded count as `local`."""
    totals: dict[tuple[str, str], tuple[int, float]] = {}
    # grouped by the engine column itself, not by the COALESCE: PostgreSQL takes the GROUP BY's
    # COALESCE('local' bound as a parameter) for another expression than the SELECT's and refuses;
    # NULL ('local') and 'local' rows, if both exist, are added up below
    outputs = (
        select(
            User.username,
            func.coalesce(JobOutput.engine, "local"),
            func.count(JobOutput.id),
            func.coalesce(func.sum(JobOutput.upstream_credits), 0.0),
        )
        .join(Job, JobOutput.job_id == Job.id)
        .join(User, Job.user_id == User.id)
        .where(JobOutput.status == "completed")
        .group_by(User.username, JobOutput.engine)
    )
    predictions = (
        select(
            User.username,
            func.coalesce(FashnPrediction.engine, "local"),
            func.coalesce(func.sum(FashnPrediction.num_images), 0),
            func.coalesce(func.sum(FashnPrediction.upstream_credits), 0.0),
        )
        .join(User, FashnPrediction.user_id == User.id)
        .where(FashnPrediction.status == "completed")
        .group_by(User.username, FashnPrediction.engine)
    )
    if since is not None:
        outputs = outputs.where(JobOutput.created_at >= since)
        predictions = predictions.where(FashnPrediction.created_at >= since)
    if user is not None:
        outputs = outputs.where(User.username == user)
        predictions = predictions.where(User.username == user)
    for query in (outputs, predictions):
        for name, engine, count, credits in db.execute(query):
            before = totals.get((name, engine), (0, 0.0))
            totals[(name, engine)] = (before[0] + int(count), before[1] + float(credits))
    return [
        UsageRow(name, engine, count, round(credits, 4))
        for (name, engine), (count, credits) in sorted(totals.items())
    ]
