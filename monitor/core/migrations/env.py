"""Alembic environment: the engine comes from monitor.core.db, never from a file."""
from alembic import context

from monitor.core.db import make_engine
from monitor.core.models import Base
import monitor.core.webmodels  # noqa: F401  (the web app's tables join Base.metadata)

config = context.config
engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
