from services.common.alembic_env import run
from services.users.models import metadata

run(metadata)
