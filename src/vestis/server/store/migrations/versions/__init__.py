"""Alembic revisions, oldest first by number prefix; they import only alembic and SQLAlchemy."""
