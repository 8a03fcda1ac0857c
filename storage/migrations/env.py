"""Alembic environment: always runs on a connection handed in by storage.migrate."""

from alembic import context

from storage.migrate import include_object
from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `digilog db upgrade`, which supplies the connection")


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
