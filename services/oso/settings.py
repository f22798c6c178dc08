"""The oso service's configured dossier source and official validator."""
import logging

from nameko.extensions import DependencyProvider

from services.common import config as cfg

from . import validation
from .sources import SourceError, source_from_config

log = logging.getLogger(__name__)


class OsoSettings(DependencyProvider):
    """The configured dossier source and the official validator."""

    def setup(self):
        self.config = dict(self.container.config)
        self.standard_dir = cfg.setting("LEERLINGBUS_OSO_STANDARD_DIR", self.config)
        self._source = None

    def get_dependency(self, worker_ctx):
        return self

    def source(self):
        if self._source is None:
            self._source = source_from_config(self.config)
        return self._source

    def validator(self):
        """(validator or None, reason when official validation is off)."""
        if not self.standard_dir:
            return None, None
        try:
            return validation.validator_for(self.standard_dir), None
        except (validation.StandardMissing, OSError) as exc:
            log.warning("oso: official validation unavailable (%s)", exc)
            return None, ("Officiële validatie staat uit: de bestanden van de OSO-standaard zijn "
                          "niet gevonden in de ingestelde map (LEERLINGBUS_OSO_STANDARD_DIR).")

    def describe(self):
        try:
            source = self.source().describe()
        except SourceError as exc:
            source = {"kind": None, "message": exc.message}
        validator, reason = self.validator()
        return {"source": source, "official_validation": validator is not None,
                "message": None if validator else (reason or (
                    "Officiële validatie staat uit: LEERLINGBUS_OSO_STANDARD_DIR is niet "
                    "ingesteld."))}
