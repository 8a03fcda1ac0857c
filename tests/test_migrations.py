"""The migrations build exactly the schema the models describe, and can be walked back."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage import migrate
from storage.migrate import include_object
from storage.models import Base
from storage.unit import Store


async def test_models_and_migrations_agree(store: Store) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        return list(compare_metadata(context, Base.metadata))

    async with store.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == []


async def test_every_migration_can_be_undone_and_redone(store: Store) -> None:
    await migrate.downgrade(store.engine, "base")
    assert not await migrate.is_current(store.engine)
    await migrate.upgrade(store.engine)
    assert await migrate.is_current(store.engine)
