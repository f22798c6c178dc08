from services.common.alembic_env import run
from services.oso.models import metadata

run(metadata)
