from services.common.alembic_env import run
from services.sync.models import metadata

run(metadata)
