"""Request and response schemas of the OSO endpoints (docs/oso.md)."""

from marshmallow import EXCLUDE, fields

from .schemas import BaseSchema, PageQuery, length, one_of, page_of

ACTIONS = ("import", "supplement", "overwrite", "none")


class OsoDeliveryPointCreate(BaseSchema):
    number = fields.Raw(
        required=True,
        metadata={
            "description": "aanleverpuntnummer (as in Mijn OSO), e.g. 1",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        },
    )
    key = fields.String(
        required=True,
        validate=length(1, 220),
        metadata={
            "description": "the key as Mijn OSO shows it (e.g. "
            "018294B0-8DE2-4269-A422-E09C320A55C1), or '<BRIN>-<key>' (docs/oso.md); "
            "never shown again in full"
        },
    )
    brin = fields.String(
        load_default=None,
        allow_none=True,
        validate=length(0, 10),
        metadata={
            "description": "optional: the BRIN the delivery point belongs to; must be the "
            "institution's (422 brin_mismatch otherwise). Absent: the "
            "institution's BRIN"
        },
    )


class OsoDeliveryPoint(BaseSchema):
    id = fields.Integer()
    number = fields.String()
    key = fields.String(metadata={"description": "masked: only the last 4 characters"})
    brin = fields.String()
    registered_at = fields.String()
    registered_by = fields.String(allow_none=True)


OsoDeliveryPointPage = page_of(OsoDeliveryPoint)


class OsoWorklistAdd(BaseSchema):
    bsn = fields.Raw(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "BSN (8 digits are padded) or onderwijsnummer",
            "oneOf": [{"type": "string"}, {"type": "integer"}],
        },
    )
    onderwijsnummer = fields.Raw(
        load_default=None,
        allow_none=True,
        metadata={"oneOf": [{"type": "string"}, {"type": "integer"}]},
    )


class OsoWorklistQuery(PageQuery):
    status = fields.String(
        load_default=None, validate=one_of("not_fetched", "queued", "fetching", "fetched", "failed")
    )


class OsoWorklistEntry(BaseSchema):
    id = fields.Integer()
    bsn = fields.String(allow_none=True)
    onderwijsnummer = fields.String(allow_none=True)
    number = fields.String()
    kind = fields.String(metadata={"description": "bsn | onderwijsnummer"})
    status = fields.String(
        metadata={"description": "not_fetched | queued | fetching | fetched | failed"}
    )
    status_label = fields.String(metadata={"description": "Dutch, e.g. 'Opgehaald op 2025-…'"})
    status_code = fields.String(allow_none=True)
    status_message = fields.String(allow_none=True)
    last_action = fields.String(allow_none=True)
    last_action_at = fields.String(allow_none=True)
    fetched_at = fields.String(allow_none=True)
    dossier_date = fields.String(allow_none=True)
    default_action = fields.String()
    has_dossier = fields.Boolean()
    definitive = fields.Boolean()
    student_number = fields.String(allow_none=True)
    created_at = fields.String()


OsoWorklistPage = page_of(OsoWorklistEntry, "OsoWorklistPage")


class OsoRowError(BaseSchema):
    row = fields.Integer()
    column = fields.String()
    code = fields.String()
    message = fields.String()


class OsoWorklistImportResult(BaseSchema):
    added = fields.Integer()
    rows = fields.Integer()
    items = fields.List(fields.Nested(OsoWorklistEntry))
    errors = fields.List(fields.Nested(OsoRowError))


class OsoActionItem(BaseSchema):
    bsn = fields.Raw(required=True, metadata={"oneOf": [{"type": "string"}, {"type": "integer"}]})
    action = fields.String(
        load_default=None,
        allow_none=True,
        validate=one_of(*ACTIONS),
        metadata={"description": "default: import when never fetched, else none"},
    )


class OsoActionsRequest(BaseSchema):
    items = fields.List(fields.Nested(OsoActionItem), load_default=list)
    all = fields.Boolean(
        load_default=False, metadata={"description": "every student on the worklist"}
    )
    action = fields.String(
        load_default=None,
        allow_none=True,
        validate=one_of(*ACTIONS),
        metadata={"description": "with all: the action for everyone"},
    )


class OsoBatchItem(BaseSchema):
    bsn = fields.String()
    action = fields.String()
    status = fields.String(
        metadata={"description": "queued | running | applied | failed | skipped"}
    )
    code = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class OsoProgress(BaseSchema):
    done = fields.Integer()
    total = fields.Integer()


class OsoBatch(BaseSchema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "queued | running | done"})
    progress = fields.Nested(OsoProgress)
    created_at = fields.String()
    finished_at = fields.String(allow_none=True)
    items = fields.List(fields.Nested(OsoBatchItem))


class OsoReport(BaseSchema):
    definitive = fields.Boolean()
    finalized_at = fields.String(allow_none=True)
    finalized_by = fields.String(allow_none=True)
    soft = fields.Dict()


class OsoReportUpdate(BaseSchema):
    functioning = fields.String(
        allow_none=True,
        validate=length(0, 20000),
        metadata={"description": "functioneren van de leerling"},
    )
    explanation = fields.String(
        allow_none=True, validate=length(0, 20000), metadata={"description": "toelichting"}
    )
    notes = fields.String(allow_none=True, validate=length(0, 20000))
    explanations = fields.Dict(
        keys=fields.String(),
        values=fields.String(allow_none=True),
        metadata={"description": "per section of the dossier data"},
    )


class OsoDossier(OsoWorklistEntry):
    class Meta:
        unknown = EXCLUDE

    source_file = fields.Dict()
    validation = fields.Dict(
        metadata={
            "description": "{official, xsd, business_rules, "
            "message, meldingen:[{type, location, "
            "text}]}"
        }
    )
    report = fields.Nested(OsoReport)
    outcome = fields.Dict(allow_none=True)
    applied_at = fields.String()
    enrolled_at = fields.String(allow_none=True)
    data = fields.Dict(metadata={"description": "the parsed hard data (docs/oso.md)"})
    labels = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={
            "description": "readable Dutch labels of the coded values in data, by dotted path: "
            '{"advice.advice": "vmbo gemengde of theoretische leerweg", '
            '"guardians.0.relation": "vader", …}; a code without a label is '
            "not listed (services/oso/codelists.py)"
        },
    )
    attachments = fields.List(fields.Dict())


class OsoEnrolRequest(BaseSchema):
    student_number = fields.String(required=True, validate=length(1, 20))
    type = fields.String(
        load_default="potential_transfer", validate=one_of("potential_transfer", "non_transfer")
    )


class OsoEnrolResult(BaseSchema):
    student = fields.Dict()
    dossier = fields.Nested(OsoDossier)


class OsoConfiguration(BaseSchema):
    source = fields.Dict()
    official_validation = fields.Boolean()
    message = fields.String(allow_none=True)
