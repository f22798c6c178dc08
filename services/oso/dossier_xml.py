"""Reading the bytes of an OSO dossier safely (defusedxml: no DTD, no entities,
so no XML bomb or external entity ever gets expanded), and the small tree
helpers the section readers in dossier.py use. Pure functions.
"""
import base64
import binascii
import hashlib
import io
import mimetypes
import zipfile
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, ElementTree as SafeET


NS = "http://www.edustandaard.nl/oso_gegevensset/2019/dossier"
STANDARD_VERSION = "2019.1"
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024


class DossierRefused(Exception):
    """A dossier that cannot be applied; `code` is stable, `message` Dutch."""

    def __init__(self, code, message, details=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details = list(details or [])

    def __str__(self):
        return f"{self.code}: {self.message}"


# --- reading the bytes ----------------------------------------------------------

def read_xml(data: bytes) -> Element:
    """Parse untrusted bytes: any DTD (and so any entity, the XML bomb's tool)
    is refused before anything is expanded."""
    if not isinstance(data, (bytes, bytearray)) or not data.strip():
        raise DossierRefused("dossier_not_xml", "Het dossier is leeg: er is geen XML ontvangen.")
    try:
        return SafeET.fromstring(bytes(data), forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        raise DossierRefused(
            "dossier_unsafe_xml",
            "Het dossier is geweigerd: het bevat een DTD of entiteiten (zoals een 'XML-bom'). "
            "Een OSO-dossier hoort die niet te bevatten.", [type(exc).__name__]) from None
    except (ParseError, ValueError, UnicodeError) as exc:
        raise DossierRefused(
            "dossier_not_xml",
            f"Het dossier is geen geldige XML en is niet ingelezen ({_short(exc)}).") from None


def check_root(root: Element):
    expected = f"{{{NS}}}dossier"
    if root.tag == expected:
        return
    ns, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local == "dossier":
        found = ns or "geen namespace"
        raise DossierRefused(
            "dossier_namespace_unknown",
            f"Het dossier gebruikt een onbekende namespace ({found}); verwacht is de "
            f"OSO-gegevensset {STANDARD_VERSION} ({NS}).")
    raise DossierRefused(
        "dossier_not_oso",
        f"Dit is geen OSO-dossier: het hoofdelement is '{local}' in plaats van 'dossier'.")


def _short(exc, limit=160):
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= limit else text[:limit] + "…"


# --- small tree helpers -----------------------------------------------------------

def _q(name):
    return f"{{{NS}}}{name}"


def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el, name):
    return None if el is None else el.find(_q(name))


def _children(el, name):
    return [] if el is None else el.findall(_q(name))


def _text(el, name=None):
    node = el if name is None else _child(el, name)
    if node is None or not node.text:
        return None
    text = node.text.strip()
    if text:
        return text
    # A field holding only spaces is filled (the OSO manual warns about it):
    # keep it as it came, so supplementing does not overwrite it.
    return None if len(node) else node.text


def _bool(el, name):
    value = _text(el, name)
    if value is None:
        return None
    return value.lower() in ("true", "1")


def _path(el, path):
    node = el
    for part in path.split("/"):
        node = _child(node, part)
        if node is None:
            return None
    return node


class _Attachments:
    """Collects `document` blocks: metadata in the data, bytes apart."""

    def __init__(self):
        self.meta = []
        self.contents = {}

    def add(self, doc_el, section):
        name = _text(doc_el, "bestandsnaam") or "bijlage"
        description = _text(doc_el, "omschrijving")
        encoded = "".join((_text(doc_el, "bestandsinhoud") or "").split())
        try:
            packed = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise DossierRefused(
                "dossier_attachment_invalid",
                f"De bijlage '{name}' is niet goed gecodeerd (geen geldige base64).") from None
        content, filename, unpacked = _unpack(packed, name)
        digest = hashlib.sha256(section.encode() + b"\0" + name.encode() + b"\0" + packed)
        ref = digest.hexdigest()[:16]
        if ref not in self.contents:
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            self.meta.append({"ref": ref, "id": ref, "section": section, "filename": filename,
                              "description": description, "content_type": content_type,
                              "size": len(content), "unpacked": unpacked})
            self.contents[ref] = content
        return {"attachment": ref, "filename": filename, "description": description}


def _unpack(packed, name):
    """OSO sends each attachment as a base64-encoded ZIP. One readable member
    → that file; anything else is kept as the ZIP it came as."""
    try:
        with zipfile.ZipFile(io.BytesIO(packed)) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            if len(members) == 1 and members[0].file_size <= MAX_ATTACHMENT_BYTES:
                with zf.open(members[0]) as fh:
                    data = fh.read(MAX_ATTACHMENT_BYTES + 1)
                if len(data) <= MAX_ATTACHMENT_BYTES:
                    return data, name, True
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError):
        pass
    filename = name if name.lower().endswith(".zip") else name + ".zip"
    return packed, filename, False


def _generic(el, atts, section):
    """A subtree as plain data: element names as keys, repeated elements as
    lists, `document` blocks as attachment references."""
    if _local(el.tag) == "document":
        return atts.add(el, section)
    kids = list(el)
    if not kids:
        text = (el.text or "").strip()
        return text if text else None
    grouped = {}
    for kid in kids:
        grouped.setdefault(_local(kid.tag), []).append(_generic(kid, atts, section))
    out = {name: values[0] if len(values) == 1 else values for name, values in grouped.items()}
    for key, value in el.attrib.items():
        out["@" + _local(key)] = value
    return out


def _documents(el, atts, section, name="document"):
    return [atts.add(d, section) for d in _children(el, name)]
