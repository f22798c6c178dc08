"""Settings of the uploads service, from the nameko config or the environment
(services/common/config.py decides which wins). docs/uploads.md lists them."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common import config as cfg
from services.common import filestore

from .xlsxguard import Limits

MB = 1024 * 1024


@dataclass
class UploadSettings:
    data_dir: Path
    limits: Limits = field(default_factory=Limits)
    retention_days: int = 730
    load_chunk: int = 2500
    # chunks of a load sent at once: the users and students services and the
    # databases work on one chunk while the next is checked
    load_parallel: int = 4
    max_errors: int = 10_000
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "Leerlingbus <noreply@leerlingbus.nl>"
    public_per_hour: int = 30
    public_bad_codes_per_hour: int = 10
    stale_seconds: float = 60.0
    # where the notice of a new list awaiting review goes (else the e-mail of
    # the platform's helpdesk account, asked from the users service)
    helpdesk_email: str | None = None
    # the web pages' address, for links in e-mails (e.g. https://leerlingbus.example.nl)
    web_url: str | None = None
    # the shared file store (originals, reports); default the local one at data_dir
    files: Any = None
    # incoming files nobody adopted (an upload whose RPC failed) are deleted after this
    orphan_seconds: float = 3600.0

    def __post_init__(self):
        if self.files is None:
            self.files = filestore.LocalStore(self.data_dir)

    @classmethod
    def from_config(cls, config=None):
        limits = Limits(
            max_bytes=cfg.setting_int("LEERLINGBUS_UPLOAD_MAX_BYTES", config, 20 * MB),
            max_rows=cfg.setting_int("LEERLINGBUS_UPLOAD_MAX_ROWS", config, 100_000),
            max_ratio=cfg.setting_float("LEERLINGBUS_UPLOAD_MAX_RATIO", config, 100.0),
            max_expanded=cfg.setting_int("LEERLINGBUS_UPLOAD_MAX_EXPANDED_BYTES", config, 400 * MB),
        )
        return cls(
            data_dir=cfg.data_dir(config),
            limits=limits,
            retention_days=cfg.setting_int("LEERLINGBUS_UPLOAD_RETENTION_DAYS", config, 730),
            load_chunk=max(1, cfg.setting_int("LEERLINGBUS_UPLOAD_LOAD_CHUNK", config, 2500)),
            load_parallel=max(1, cfg.setting_int("LEERLINGBUS_UPLOAD_LOAD_PARALLEL", config, 4)),
            max_errors=cfg.setting_int("LEERLINGBUS_UPLOAD_MAX_ERRORS", config, 10_000),
            smtp_host=cfg.setting("LEERLINGBUS_SMTP_HOST", config) or None,
            smtp_port=cfg.setting_int("LEERLINGBUS_SMTP_PORT", config, 25),
            smtp_from=cfg.setting("LEERLINGBUS_SMTP_FROM", config,
                                  "Leerlingbus <noreply@leerlingbus.nl>"),
            public_per_hour=cfg.setting_int("LEERLINGBUS_PUBLIC_UPLOADS_PER_HOUR", config, 30),
            public_bad_codes_per_hour=cfg.setting_int("LEERLINGBUS_PUBLIC_BAD_CODES_PER_HOUR",
                                                      config, 10),
            stale_seconds=cfg.setting_float("LEERLINGBUS_UPLOAD_STALE_SECONDS", config, 60.0),
            helpdesk_email=(cfg.setting("LEERLINGBUS_HELPDESK_EMAIL", config) or "").strip()
            or None,
            web_url=(cfg.setting("LEERLINGBUS_WEB_URL", config) or "").strip().rstrip("/")
            or None,
            files=filestore.from_config(config),
            orphan_seconds=cfg.setting_float("LEERLINGBUS_FILESTORE_ORPHAN_SECONDS", config,
                                             3600.0),
        )
