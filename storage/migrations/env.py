"""Alembic environment: always runs on a connection handed in by storage.migrate."""

from alembic import context

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `digilog db upgrade`, which supplies the connection")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # The search index is written by hand in 0001 (FTS5 / tsvector): not for autogenerate.
    return not (name or "").startswith(("reflection_search", "ix_reflections_search"))


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
