"""Request and response schemas of the portal connector (docs/connector.md).
The snapshot itself is validated by the sync
service (it names every unknown key, wrong type and non-digit student number);
the schemas here describe it for /openapi.json and validate the small bodies."""

from marshmallow import fields

from .schemas import BaseSchema, PageQuery, PersonOut, QuerySchema, length, page_of

CATEGORIES = (
    "students",
    "personal_data",
    "participations",
    "lwoo",
    "home_classes",
    "forecasts",
    "packages",
    "groups",
)


# -- the snapshot (docs/connector.md "The snapshot") ------------------------------
class SnapshotStudent(PersonOut):
    student_number = fields.String(required=True, metadata={"description": "digits only"})
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    gender = fields.String(allow_none=True, metadata={"description": "M, V, X or null"})
    previous_home_class = fields.String(allow_none=True)
    properties = fields.Dict(
        keys=fields.String(),
        allow_none=True,
        metadata={"description": "extra properties; #EMAIL is the e-mail address an upload uses"},
    )


class SnapshotParticipation(BaseSchema):
    student_number = fields.String(required=True)
    department = fields.String(
        required=True,
        metadata={
            "description": "one participation per student per department; a student may be "
            "listed once for each of several departments"
        },
    )
    forecast = fields.Integer(allow_none=True, metadata={"description": "0-100"})
    lwoo = fields.Boolean(allow_none=True)
    home_class = fields.String(allow_none=True)
    profile = fields.String(allow_none=True)
    programme = fields.String(allow_none=True)


class SnapshotPackage(BaseSchema):
    student_number = fields.String(required=True)
    department = fields.String(
        allow_none=True,
        metadata={
            "description": "the participation's department; required when the student has "
            "several participations"
        },
    )
    subjects = fields.List(fields.String(), allow_none=True)
    exemptions = fields.List(fields.String(), allow_none=True)


class SnapshotGroup(BaseSchema):
    code = fields.String(required=True)
    department = fields.String(allow_none=True)
    kind = fields.String(required=True, metadata={"enum": ["home_class", "cluster"]})
    subject = fields.String(allow_none=True)
    student_numbers = fields.List(fields.String(), allow_none=True)


class Snapshot(BaseSchema):
    students = fields.List(fields.Nested(SnapshotStudent), allow_none=True)
    participations = fields.List(fields.Nested(SnapshotParticipation), allow_none=True)
    packages = fields.List(fields.Nested(SnapshotPackage), allow_none=True)
    groups = fields.List(fields.Nested(SnapshotGroup), allow_none=True)


class CategoryStatus(BaseSchema):
    status = fields.String(metadata={"enum": ["ok", "differences"]})
    differences = fields.Integer()
    download = fields.Integer(metadata={"description": "differences that move to the desktop"})
    upload = fields.Integer(metadata={"description": "differences that move to the portal"})
    exemptions = fields.Integer(
        metadata={
            "description": "packages only: students whose exemptions differ (the manual's [n])"
        }
    )
    groups = fields.Integer(metadata={"description": "groups only: groups that differ"})
    as_of = fields.String()


class Status(BaseSchema):
    project_id = fields.Integer()
    as_of = fields.String(metadata={"description": "when the portal data was read"})
    snapshot_received_at = fields.String()
    snapshot_updated_at = fields.String()
    mutations_since_as_of = fields.Integer()
    students = fields.Nested(CategoryStatus)
    personal_data = fields.Nested(CategoryStatus)
    participations = fields.Nested(CategoryStatus)
    lwoo = fields.Nested(CategoryStatus)
    home_classes = fields.Nested(CategoryStatus)
    forecasts = fields.Nested(CategoryStatus)
    packages = fields.Nested(CategoryStatus)
    groups = fields.Nested(CategoryStatus)


class SnapshotResult(BaseSchema):
    project_id = fields.Integer()
    received_at = fields.String()
    as_of = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    status = fields.Nested(Status)


class StoredSnapshot(BaseSchema):
    project_id = fields.Integer()
    received_at = fields.String()
    updated_at = fields.String()
    snapshot = fields.Nested(Snapshot)


class StatusQuery(QuerySchema):
    refresh = fields.Boolean(
        load_default=False, metadata={"description": "read the portal again before comparing"}
    )


class DifferencesQuery(QuerySchema):
    department = fields.String(load_default=None, validate=length(1, 20))


class Difference(BaseSchema):
    student_number = fields.String()
    name = fields.String(allow_none=True)
    department = fields.String(
        allow_none=True,
        metadata={
            "description": "the participation's department (per student and department "
            "categories), else the student's first department"
        },
    )
    departments = fields.List(
        fields.String(),
        metadata={
            "description": "per-student items of a student in several departments: all of them"
        },
    )
    student_departments = fields.Dict(
        metadata={"description": "participations: the student's departments {P: [...], D: [...]}"}
    )
    in_desktop = fields.Boolean(
        metadata={
            "description": "false: the desktop has no participation in this department; a "
            "download creates it"
        }
    )
    direction = fields.String(metadata={"enum": ["download", "upload"]})
    fields_ = fields.Dict(
        data_key="fields", metadata={"description": "per field {P: portal value, D: desktop value}"}
    )
    home_class_authority = fields.String()
    action = fields.String()
    has_account = fields.Boolean()
    exemptions_differ = fields.Boolean()


class DepartmentAuthority(BaseSchema):
    code = fields.String(allow_none=True)
    home_class_authority = fields.String(
        allow_none=True, metadata={"enum": ["portal", "desktop", None]}
    )
    in_portal = fields.Boolean()
    direction = fields.String()
    differences = fields.Integer()
    packages_in_portal = fields.Boolean(
        metadata={
            "description": "packages only: false when the portal holds no package choices for "
            "this department; a download then leaves the desktop's packages alone"
        }
    )
    note = fields.String(metadata={"description": "Dutch note for the scheduler"})
    left_alone = fields.Integer(
        metadata={
            "description": "packages only: desktop packages of this department that differ but "
            "are not downloaded"
        }
    )


class GroupDifference(BaseSchema):
    code = fields.String()
    department = fields.String(allow_none=True)
    kind = fields.String()
    subject = fields.String(allow_none=True)
    in_portal = fields.Boolean()
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
    problem = fields.String()


class Differences(BaseSchema):
    project_id = fields.Integer()
    category = fields.String(metadata={"enum": list(CATEGORIES)})
    as_of = fields.String()
    department = fields.String(allow_none=True)
    departments = fields.List(fields.Nested(DepartmentAuthority))
    items = fields.List(fields.Nested(Difference))
    total = fields.Integer()
    exemptions = fields.Integer()
    groups = fields.List(fields.Nested(GroupDifference))


class Selection(BaseSchema):
    departments = fields.List(
        fields.String(validate=length(1, 20)),
        load_default=None,
        allow_none=True,
        metadata={"description": "department codes; absent: every department"},
    )
    student_numbers = fields.List(
        fields.String(validate=length(1, 50)),
        load_default=None,
        allow_none=True,
        metadata={"description": "absent: every student"},
    )


class Change(BaseSchema):
    student_number = fields.String()
    department = fields.String(allow_none=True)
    action = fields.String(metadata={"enum": ["add", "remove", "set"]})
    values = fields.Dict(metadata={"description": "field -> the portal's value"})
    participation = fields.Dict(metadata={"description": "students add: the first participation"})
    participations = fields.List(
        fields.Dict(),
        metadata={
            "description": "students add: every participation {department, profile, programme}"
        },
    )
    left_groups = fields.List(fields.String())


class SkippedDepartment(BaseSchema):
    department = fields.String()
    code = fields.String(metadata={"enum": ["no_packages_in_portal"]})
    message = fields.String()
    students = fields.Integer(metadata={"description": "desktop packages left alone"})


class DownloadResult(BaseSchema):
    project_id = fields.Integer()
    category = fields.String()
    as_of = fields.String()
    changes = fields.List(fields.Nested(Change))
    count = fields.Integer()
    skipped = fields.List(
        fields.Nested(SkippedDepartment),
        metadata={
            "description": "packages: departments left alone (the portal holds no package "
            "choices there)"
        },
    )
    status = fields.Nested(CategoryStatus)


class UploadResult(BaseSchema):
    project_id = fields.Integer()
    category = fields.String()
    as_of = fields.String()
    applied = fields.List(fields.Dict())
    count = fields.Integer()
    skipped = fields.List(fields.Dict())
    status = fields.Nested(CategoryStatus)


class MutationsQuery(PageQuery):
    since = fields.String(
        load_default=None,
        validate=length(1, 40),
        metadata={"description": "ISO 8601 timestamp; pass the previous answer's as_of"},
    )


class Mutation(BaseSchema):
    id = fields.Integer()
    event_id = fields.String()
    type = fields.String()
    category = fields.String()
    student_number = fields.String(allow_none=True)
    project_id = fields.Integer(allow_none=True)
    department = fields.String(allow_none=True)
    occurred_at = fields.String(allow_none=True)
    recorded_at = fields.String()
    action = fields.String()
    changes = fields.Dict()


MutationPage = page_of(Mutation, since=fields.String(allow_none=True), as_of=fields.String())
