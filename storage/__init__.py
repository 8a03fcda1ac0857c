"""Persistence: SQLAlchemy models, repositories and Alembic migrations.

Knows nothing of Slack, Teams or aiohttp; SQLite by default, PostgreSQL at scale.
"""
