"""Alembic per service: services/<name>/migrations, applied by the runner.

python -m services.common.migrate            # every service
python -m services.common.migrate users      # one service
"""

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from . import config as cfg

ROOT = Path(__file__).resolve().parents[1]


def alembic_config(service: str, url: str) -> Config:
    conf = Config()
    conf.set_main_option("script_location", str(ROOT / service / "migrations"))
    conf.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    conf.attributes["service"] = service
    return conf


def upgrade(service: str, url: str | None = None, revision: str = "head"):
    url = url or cfg.database_url(service)
    command.upgrade(alembic_config(service, url), revision)


def main(argv):
    services = argv or list(cfg.SERVICES)
    for service in services:
        upgrade(service)
        print(f"migrated {service}")


if __name__ == "__main__":
    main(sys.argv[1:])
