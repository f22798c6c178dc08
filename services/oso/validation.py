"""Official validation of a dossier with the standard's own files.

The Edustandaard files (XSD and business-rule XSLT 2.0) are read from the
configured directory `LEERLINGBUS_OSO_STANDARD_DIR`; the project never copies
them. The XSD is checked with xmlschema (SaxonC-HE does not validate schemas),
the business rules run with saxonche. Without the directory the service still
parses and applies dossiers with its own parser and says that official
validation is off.

Both are compiled once per process and directory; a check of one dossier takes
a few milliseconds.
"""
import logging
import threading
from pathlib import Path
from xml.etree import ElementTree as ET

from defusedxml import ElementTree as SafeET

from .dossier_xml import DossierRefused

log = logging.getLogger(__name__)

XSD_GLOB = "OSO_gegevensset_*.xsd"
# The profile rules include the code-list rules (ValideerOSOgegevensset_*.xsl).
XSLT_NAMES = ("ValideerOverstapprofielen.xsl",)
XSLT_FALLBACK_GLOB = "ValideerOSOgegevensset_*.xsl"
MELDINGEN_NS = "{http://www.edustandaard.nl/oso_gegevensset/2019/schemas/Meldingen}"
MAX_XSD_ERRORS = 20

_lock = threading.Lock()
_validators = {}
_saxon = None


class StandardMissing(Exception):
    pass


def _saxon_processor():
    global _saxon
    if _saxon is None:
        from saxonche import PySaxonProcessor
        _saxon = PySaxonProcessor(license=False)
    return _saxon


class OfficialValidator:
    """XSD + business rules of one standard directory."""

    def __init__(self, directory):
        import xmlschema

        self.directory = Path(directory)
        xsds = sorted(self.directory.glob(XSD_GLOB))
        if not xsds:
            raise StandardMissing(f"geen {XSD_GLOB} in {self.directory}")
        xslt = next((self.directory / n for n in XSLT_NAMES if (self.directory / n).is_file()),
                    None)
        if xslt is None:
            found = sorted(self.directory.glob(XSLT_FALLBACK_GLOB))
            if not found:
                raise StandardMissing(f"geen validatie-XSLT in {self.directory}")
            xslt = found[0]
        self.xsd_path, self.xslt_path = xsds[-1], xslt
        self.schema = xmlschema.XMLSchema(str(self.xsd_path))
        proc = _saxon_processor()
        compiler = proc.new_xslt30_processor()
        self.executable = compiler.compile_stylesheet(stylesheet_file=str(self.xslt_path))
        if self.executable is None:  # pragma: no cover - a broken standard file
            raise StandardMissing(f"{self.xslt_path.name} compileert niet")

    @property
    def description(self):
        return {"xsd": self.xsd_path.name, "business_rules": self.xslt_path.name}

    def check_xsd(self, root):
        errors = []
        for err in self.schema.iter_errors(root):
            errors.append({"path": err.path, "message": str(err.reason or err.message)})
            if len(errors) >= MAX_XSD_ERRORS:
                break
        if errors:
            first = errors[0]
            raise DossierRefused(
                "dossier_xsd_invalid",
                f"Het dossier voldoet niet aan het XSD van de OSO-gegevensset "
                f"({self.xsd_path.name}) en is niet ingelezen: {first['message']} "
                f"(bij {first['path']}).", errors)

    def meldingen(self, root):
        """The business rules' messages as [{type, location, text}]."""
        text = ET.tostring(root, encoding="unicode")
        with _lock:
            proc = _saxon_processor()
            node = proc.parse_xml(xml_text=text)
            out = self.executable.transform_to_string(xdm_node=node)
        if not out:
            raise DossierRefused("dossier_validation_failed",
                                 "De officiële validatie (bedrijfsregels) kon niet worden "
                                 "uitgevoerd op dit dossier.")
        result = SafeET.fromstring(out.encode("utf-8"), forbid_dtd=True)
        items = []
        for m in result.iter(MELDINGEN_NS + "melding"):
            items.append({
                "type": (m.findtext(MELDINGEN_NS + "type") or "").strip() or None,
                "location": (m.findtext(MELDINGEN_NS + "locatie") or "").strip() or None,
                "text": (m.findtext(MELDINGEN_NS + "tekst") or "").strip(),
            })
        return items


def validator_for(directory):
    """The cached validator of a directory, or None when it is not configured.
    A configured directory without the files raises StandardMissing."""
    if not directory:
        return None
    key = str(Path(directory).resolve())
    with _lock:
        found = _validators.get(key)
    if found is None:
        found = OfficialValidator(key)
        with _lock:
            _validators[key] = found
    return found
