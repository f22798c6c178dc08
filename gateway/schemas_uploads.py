"""Schemas of the student-list and import routes (gateway/routes/uploads.py)."""

from marshmallow import fields

from .schemas import BaseSchema, PageQuery, PersonOut, QuerySchema, between, length, one_of, page_of

SCHOOL_TYPE = one_of("vo", "mbo")
STUDENT_TYPE = one_of("potential_transfer", "non_transfer")
STATUSES = (
    "validating",
    "rejected",
    "awaiting_review",
    "declined",
    "loading",
    "loaded",
    "load_failed",
)


class TemplateQuery(QuerySchema):
    school_type = fields.String(required=True, validate=SCHOOL_TYPE)
    student_type = fields.String(required=True, validate=STUDENT_TYPE)


class _ListForm(BaseSchema):
    """A student list's kind and its sender (the form beside the file)."""

    school_type = fields.String(required=True, validate=SCHOOL_TYPE)
    student_type = fields.String(required=True, validate=STUDENT_TYPE)
    name = fields.String(required=True, validate=length(1, 200))
    email = fields.String(required=True, validate=length(1, 254))
    note = fields.String(load_default=None, allow_none=True, validate=length(0, 4000))


class UploadForm(_ListForm):
    institution_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "helpdesk only: the institution"},
    )


class PublicUploadForm(_ListForm):
    upload_code = fields.String(required=True, validate=length(1, 64))


class UploadAccepted(BaseSchema):
    id = fields.Integer()
    status = fields.String()


class UploadError(BaseSchema):
    row = fields.Integer(allow_none=True)
    column = fields.String(allow_none=True)
    cell = fields.String(allow_none=True)
    field = fields.String(allow_none=True)
    code = fields.String()
    message = fields.String()
    suggestion = fields.String()


class UploadProgress(BaseSchema):
    done = fields.Integer()
    total = fields.Integer()


class Upload(BaseSchema):
    id = fields.Integer()
    institution_id = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    school_type = fields.String()
    student_type = fields.String()
    source = fields.String(metadata={"description": "portal or public"})
    name = fields.String()
    email = fields.String()
    note = fields.String(allow_none=True)
    filename = fields.String()
    rows = fields.Integer(allow_none=True)
    error_count = fields.Integer()
    errors = fields.List(fields.Nested(UploadError))
    conflicts = fields.List(fields.Nested(UploadError))
    progress = fields.Nested(UploadProgress)
    report_ready = fields.Boolean()
    project_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    loaded = fields.Integer()
    skipped = fields.Integer()
    load_errors = fields.List(fields.Nested(UploadError))
    created_at = fields.String()
    updated_at = fields.String()


class UploadQuery(QuerySchema):
    errors_offset = fields.Integer(load_default=0, validate=between(0, None))
    errors_limit = fields.Integer(load_default=1000, validate=between(1, 10000))


class UploadRowsQuery(PageQuery):
    pass


class UploadRow(PersonOut):
    row = fields.Integer(metadata={"description": "the sheet's row number (header is row 1)"})
    type = fields.String()
    student_number = fields.String()
    bsn = fields.String(allow_none=True, metadata={"description": "masked"})
    onderwijsnummer = fields.String(allow_none=True, metadata={"description": "masked"})
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    date_of_birth = fields.String(allow_none=True)
    home_class = fields.String(allow_none=True)
    year_of_education = fields.Integer(allow_none=True)
    track = fields.String(allow_none=True)
    department = fields.String(allow_none=True)


UploadRowPage = page_of(
    UploadRow,
    available=fields.Boolean(
        metadata={"description": "false: the list has no checked rows (rejected, or purged)"}
    ),
)


class UploadListQuery(PageQuery):
    status = fields.String(
        load_default=None,
        validate=length(1, 200),
        metadata={"description": "one status or several, comma-separated"},
    )
    institution_id = fields.Integer(load_default=None)


class UploadSummary(BaseSchema):
    id = fields.Integer()
    institution_id = fields.Integer()
    status = fields.String()
    school_type = fields.String()
    student_type = fields.String()
    source = fields.String()
    name = fields.String()
    filename = fields.String()
    rows = fields.Integer(allow_none=True)
    error_count = fields.Integer()
    conflict_count = fields.Integer()
    progress = fields.Nested(UploadProgress)
    created_at = fields.String()


UploadPage = page_of(UploadSummary, "UploadPage")


class ApproveRequest(BaseSchema):
    project_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "place rows with an Afdeling in this schedule project"},
    )


class DeclineRequest(BaseSchema):
    reason = fields.String(required=True, validate=length(1, 4000))


class UploadCode(BaseSchema):
    institution_id = fields.Integer()
    upload_code = fields.String()


# -- imports ---------------------------------------------------------------
class ImportForm(BaseSchema):
    kind = fields.String(load_default="users", validate=one_of("users", "participations"))
    delimiter = fields.String(
        load_default=None, allow_none=True, validate=one_of("tab", ";", ",", "\t")
    )
    encoding = fields.String(load_default=None, allow_none=True, validate=length(1, 40))


IMPORT_STATUSES = ("uploaded", "previewed", "committing", "committed", "failed", "undone")
ROW_ACTIONS = ("create", "update", "unchanged", "archive", "error")


class ImportListQuery(PageQuery):
    kind = fields.String(load_default=None, validate=one_of("users", "participations"))
    status = fields.String(load_default=None, validate=one_of(*IMPORT_STATUSES))
    institution_id = fields.Integer(
        load_default=None,
        metadata={"description": "required for helpdesk; an admin sees their own institution"},
    )


class ImportCounts(BaseSchema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    archived = fields.Integer()
    failed = fields.Integer()


class _ImportStamps(BaseSchema):
    """Who made an import and when each step happened."""

    created_by = fields.String(allow_none=True, metadata={"description": "user code"})
    created_at = fields.String()
    previewed_at = fields.String(allow_none=True)
    committed_at = fields.String(allow_none=True)
    undone_at = fields.String(allow_none=True)


class ImportSummary(_ImportStamps):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": ["users", "participations"]})
    status = fields.String(metadata={"enum": list(IMPORT_STATUSES)})
    filename = fields.String()
    row_count = fields.Integer()
    mode = fields.String(
        allow_none=True,
        metadata={
            "description": "import, update or sync (from the mapping); null before the preview"
        },
    )
    as_students = fields.Boolean(allow_none=True)
    counts = fields.Nested(
        ImportCounts,
        allow_none=True,
        metadata={
            "description": "the commit's counts; before a commit the preview's, under the same "
            "names; null before the preview"
        },
    )
    counts_from = fields.String(allow_none=True, metadata={"enum": ["result", "preview"]})
    undo_counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        allow_none=True,
        metadata={"description": "what the undo did (removed, restored, unarchived, skipped)"},
    )


ImportPage = page_of(ImportSummary, "ImportPage")


class ImportColumn(BaseSchema):
    index = fields.Integer()
    header = fields.String()
    suggested_field = fields.String(allow_none=True)


class ImportProblem(BaseSchema):
    code = fields.String()
    message = fields.String()
    status = fields.Integer()


class Import(_ImportStamps):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String(
        metadata={
            "enum": list(IMPORT_STATUSES),
            "description": "committing: a commit in the background (?async=true) is running; "
            "poll until committed, failed or uploaded (records changed since the "
            "preview: preview again); `problem` says why it stopped",
        }
    )
    filename = fields.String()
    delimiter = fields.String()
    encoding = fields.String()
    columns = fields.List(fields.Nested(ImportColumn))
    sample = fields.List(fields.List(fields.String(allow_none=True)))
    row_count = fields.Integer()
    fields_available = fields.List(fields.String())
    mapping = fields.Dict(allow_none=True)
    options = fields.Dict(allow_none=True)
    preview = fields.Dict(
        allow_none=True,
        metadata={
            "description": "{rows, counts}; ?preview_rows=n limits the rows (page through them "
            "with GET /imports/{id}/rows)"
        },
    )
    result = fields.Dict(allow_none=True)
    created_by = fields.String(allow_none=True)
    progress = fields.Nested(
        UploadProgress,
        metadata={"description": "a commit in the background: changes applied of those planned"},
    )
    problem = fields.Nested(
        ImportProblem,
        allow_none=True,
        metadata={"description": "why the last commit stopped (Dutch message), else null"},
    )


class ImportQuery(QuerySchema):
    preview_rows = fields.Integer(
        load_default=None,
        validate=between(0, 100_000),
        metadata={
            "description": "how many preview rows to include (default all; the counts always)"
        },
    )


class ImportGetQuery(ImportQuery):
    sample_rows = fields.Integer(
        load_default=0,
        validate=between(0, 20),
        metadata={
            "description": "include the file's first rows again as `sample` (at most 20; none "
            "once the file is purged)"
        },
    )


class ImportCommitQuery(QuerySchema):
    async_ = fields.Boolean(
        data_key="async",
        load_default=False,
        metadata={
            "description": "true: answer 202 at once with the import (status committing, "
            "progress {done, total}) and commit in the background; poll GET "
            "/imports/{id}. false (default): commit and answer the counts"
        },
    )


class ImportRowsQuery(PageQuery):
    action = fields.String(
        load_default=None,
        validate=one_of(*ROW_ACTIONS),
        metadata={"description": "only rows with this action"},
    )


class ImportMapping(BaseSchema):
    columns = fields.Dict(
        keys=fields.String(), values=fields.String(allow_none=True), required=True
    )
    as_students = fields.Boolean(load_default=False)
    mode = fields.String(load_default="import", validate=one_of("import", "update", "sync"))
    project_id = fields.Integer(load_default=None, allow_none=True)
    archive_missing = fields.Boolean(load_default=False)
    force = fields.Boolean(load_default=False)


class ImportPreviewRow(BaseSchema):
    row = fields.Integer(allow_none=True)
    code = fields.String(allow_none=True)
    action = fields.String(metadata={"enum": ["create", "update", "unchanged", "archive", "error"]})
    changes = fields.Dict()
    errors = fields.List(fields.Nested(UploadError))
    note = fields.String(allow_none=True)


class ImportPreview(BaseSchema):
    rows = fields.List(fields.Nested(ImportPreviewRow))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    total = fields.Integer(
        metadata={
            "description": "rows in the preview (all of them, also "
            "when ?preview_rows= limits `rows`)"
        }
    )


ImportRowPage = page_of(
    ImportPreviewRow,
    "ImportRowPage",
    counts=fields.Dict(keys=fields.String(), values=fields.Integer()),
    action=fields.String(allow_none=True),
)


class ImportStudents(BaseSchema):
    registered = fields.Integer(
        metadata={"description": "how many of the imported students have their student record"}
    )
    deferred = fields.Boolean(
        metadata={
            "description": "true when the students service did not answer: the student records "
            "follow from the accounts' events shortly after"
        }
    )


class ImportResult(BaseSchema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    students = fields.Nested(
        ImportStudents,
        metadata={"description": "users imported as students (as_students): their student records"},
    )
