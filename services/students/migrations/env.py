from services.common.alembic_env import run
from services.students.models import metadata

run(metadata)
