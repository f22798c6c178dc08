from services.common.alembic_env import run
from services.uploads.models import metadata

run(metadata)
