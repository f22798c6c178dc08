"""deploy/config.yaml as nameko reads it (`nameko show-config`), and what the
services make of it through services.common.config."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.common import config as cfg
from services.common.config import SERVICES

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "config.yaml"
OURS = ("AMQP_URI", "LEERLINGBUS_", "NAMEKO_", "_DATABASE_URL")


class PlainLoader(yaml.SafeLoader):
    pass


PlainLoader.yaml_implicit_resolvers = {
    k: [(t, r) for t, r in v if t != "!env_var"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def show_config(**env):
    """The config dict `nameko run --config deploy/config.yaml` would get."""
    clean = {k: v for k, v in os.environ.items() if not any(o in k for o in OURS)}
    clean.update(env)
    nameko = Path(sys.executable).with_name("nameko")
    result = subprocess.run([sys.executable, str(nameko), "show-config", "--config", str(CONFIG)],
                            cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.load(result.stdout, Loader=PlainLoader)


@pytest.fixture(scope="module")
def defaults():
    return show_config()


def test_defaults(defaults, tmp_path, monkeypatch):
    assert defaults["AMQP_URI"] == "amqp://guest:guest@127.0.0.1:5672/"
    assert defaults["LEERLINGBUS_DATA_DIR"] == "./var"
    assert defaults["LEERLINGBUS_TOKEN_TTL"] == 28800
    assert defaults["max_workers"] == 10
    assert defaults["serializer"] == "json"
    for name in SERVICES:
        assert f"{name.upper()}_DATABASE_URL" in defaults
        assert defaults[f"{name.upper()}_DATABASE_URL"] is None
    assert defaults["LOGGING"]["root"]["level"] == "INFO"

    # empty database URL: the service falls back to a SQLite file in the data dir
    for key in list(os.environ):
        if key.endswith("_DATABASE_URL") or key == "LEERLINGBUS_DATA_DIR":
            monkeypatch.delenv(key)
    conf = dict(defaults, LEERLINGBUS_DATA_DIR=str(tmp_path))
    for name in SERVICES:
        assert cfg.database_url(name, conf) == f"sqlite:///{tmp_path / (name + '.sqlite3')}"
    assert cfg.amqp_uri(conf) == "amqp://guest:guest@127.0.0.1:5672/"


def test_environment_overrides(tmp_path):
    conf = show_config(
        AMQP_URI="amqp://lb:secret@127.0.0.1:5672/leerlingbus",
        LEERLINGBUS_DATA_DIR=str(tmp_path),
        STUDENTS_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/students",
        NAMEKO_MAX_WORKERS="25",
        LEERLINGBUS_TOKEN_TTL="600",
        LEERLINGBUS_LOG_LEVEL="DEBUG",
    )
    assert conf["AMQP_URI"] == "amqp://lb:secret@127.0.0.1:5672/leerlingbus"
    assert conf["max_workers"] == 25
    assert conf["LEERLINGBUS_TOKEN_TTL"] == 600
    assert conf["LOGGING"]["root"]["level"] == "DEBUG"
    assert cfg.data_dir(conf) == tmp_path
    assert cfg.database_url("students", conf) == "postgresql://postgres@127.0.0.1:5432/students"
    assert cfg.database_url("users", conf) == f"sqlite:///{tmp_path / 'users.sqlite3'}"
    assert cfg.amqp_uri(conf) == "amqp://lb:secret@127.0.0.1:5672/leerlingbus"


def test_an_empty_variable_counts_as_unset(tmp_path):
    conf = show_config(USERS_DATABASE_URL="", LEERLINGBUS_DATA_DIR=str(tmp_path))
    assert conf["USERS_DATABASE_URL"] is None
    assert cfg.database_url("users", conf) == f"sqlite:///{tmp_path / 'users.sqlite3'}"
