"""Request and response schemas: they validate requests and generate /openapi.json.

marshmallow's messages are replaced by stable codes (see errors.FIELD_MESSAGES),
which the gateway turns into Dutch messages naming the field.
"""

from marshmallow import RAISE, Schema, fields, validate

from services.common.paging import MAX_PAGE

_CODES = {
    "required": "required",
    "null": "null_not_allowed",
    "invalid": "invalid_type",
    "validator_failed": "invalid",
    "too_large": "range_invalid",
    "format": "invalid_type",
    "invalid_utf8": "invalid_type",
}
for _cls in (
    fields.Field,
    fields.String,
    fields.Integer,
    fields.Number,
    fields.Boolean,
    fields.List,
    fields.Date,
    fields.DateTime,
    fields.Dict,
    fields.Nested,
    fields.Email,
    fields.Float,
):
    _cls.default_error_messages = {
        key: _CODES.get(key, "invalid") for key in _cls.default_error_messages
    }


def one_of(*choices):
    # the choices travel with the code: the Dutch message lists them (errors.py)
    return validate.OneOf(choices, error="choice_invalid:" + ", ".join(map(str, choices)))


def length(lo=None, hi=None):
    return validate.Length(min=lo, max=hi, error="length_invalid")


def between(lo=None, hi=None):
    return validate.Range(min=lo, max=hi, error="range_invalid")


class BaseSchema(Schema):
    # marshmallow reads this class attribute (typed as an instance variable there).
    error_messages: dict[str, str] = {"unknown": "unknown_field", "type": "invalid_body"}  # noqa: RUF012

    class Meta:
        unknown = RAISE


class QuerySchema(BaseSchema):
    class Meta:
        unknown = RAISE


# -- problems -------------------------------------------------------------
class ProblemItem(BaseSchema):
    field = fields.String()
    row = fields.Integer()
    column = fields.String()
    code = fields.String(required=True)
    message = fields.String(required=True)


class Problem(BaseSchema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String()
    errors = fields.List(fields.Nested(ProblemItem))


# -- auth ----------------------------------------------------------------
class TokenRequest(BaseSchema):
    institution = fields.String(
        required=True,
        validate=length(1, 20),
        metadata={"description": 'BRIN (with branch) or "platform"'},
    )
    code = fields.String(required=True, validate=length(1, 64))
    password = fields.String(required=True, validate=length(1, 1024))


class TokenResponse(BaseSchema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


# -- institutions -----------------------------------------------------------
class InstitutionCreate(BaseSchema):
    name = fields.String(required=True, validate=length(1, 200))
    brin = fields.String(required=True, validate=length(1, 10))
    branch = fields.String(load_default=None, allow_none=True, validate=length(0, 4))
    school_type = fields.String(required=True, validate=one_of("vo", "mbo"))


class Institution(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    brin = fields.String()
    branch = fields.String(allow_none=True)
    school_type = fields.String()
    created_at = fields.String()


class PageQuery(QuerySchema):
    page = fields.Integer(load_default=1, validate=between(1, MAX_PAGE))
    page_size = fields.Integer(load_default=50, validate=between(1, 500))


def page_of(schema_cls, name=None, **extra):
    """A page of `schema_cls` items (named <item>Page unless `name`), with `extra` fields."""
    return type(
        name or schema_cls.__name__ + "Page",
        (BaseSchema,),
        {
            "items": fields.List(fields.Nested(schema_cls)),
            "total": fields.Integer(),
            "page": fields.Integer(),
            "page_size": fields.Integer(),
            **extra,
        },
    )


InstitutionPage = page_of(Institution)


# -- users ---------------------------------------------------------------
ROLE = fields.String(validate=one_of("admin", "scheduler", "mentor", "student", "helpdesk"))
GENDER = {"allow_none": True, "validate": one_of("M", "V", "X", "")}


class PersonIn(BaseSchema):
    """A person's name, gender and contact details as a request sets them."""

    initials = fields.String(allow_none=True, validate=length(0, 20))
    first_name = fields.String(validate=length(1, 100))
    prefix = fields.String(allow_none=True, validate=length(0, 30))
    last_name = fields.String(validate=length(1, 100))
    gender = fields.String(**GENDER)
    email = fields.String(allow_none=True, validate=length(0, 254))
    street = fields.String(allow_none=True, validate=length(0, 200))
    house_number = fields.String(allow_none=True, validate=length(0, 20))
    postcode = fields.String(allow_none=True, validate=length(0, 10))
    city = fields.String(allow_none=True, validate=length(0, 100))


class PersonOut(BaseSchema):
    """A person's name, gender and contact details as the API answers them."""

    initials = fields.String(allow_none=True)
    first_name = fields.String()
    prefix = fields.String(allow_none=True)
    last_name = fields.String()
    gender = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    street = fields.String(allow_none=True)
    house_number = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    city = fields.String(allow_none=True)


class _PersonalData(PersonIn):
    password = fields.String(load_only=True, validate=length(1, 1024))
    roles = fields.List(ROLE)


class UserCreate(_PersonalData):
    code = fields.String(required=True, validate=length(1, 64))
    first_name = fields.String(required=True, validate=length(1, 100))
    last_name = fields.String(required=True, validate=length(1, 100))
    is_student = fields.Boolean(load_default=False)
    type = fields.String(validate=one_of("student", "employee", "guardian"))
    institution_id = fields.Integer(metadata={"description": "helpdesk only: the institution"})


class UserUpdate(_PersonalData):
    type = fields.String(validate=one_of("student", "employee", "guardian"))


class User(PersonOut):
    id = fields.Integer()
    institution_id = fields.Integer()
    code = fields.String()
    type = fields.String()
    is_student = fields.Boolean()
    roles = fields.List(fields.String())
    archived = fields.Boolean()
    archived_at = fields.String(allow_none=True)
    last_login_at = fields.String(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String(allow_none=True)


UserPage = page_of(User)


class UserListQuery(PageQuery):
    filter = fields.String(
        load_default="all", validate=one_of("all", "students", "employees", "archived")
    )
    q = fields.String(load_default=None, validate=length(0, 200))
    institution_id = fields.Integer(metadata={"description": "helpdesk only"})


class InstitutionScopeQuery(QuerySchema):
    institution_id = fields.Integer(metadata={"description": "helpdesk only"})


class Me(BaseSchema):
    user = fields.Nested(User)
    roles = fields.List(fields.String())
    institution = fields.Dict()


class Health(BaseSchema):
    status = fields.String()
    services = fields.Dict(keys=fields.String(), values=fields.String())
    parked = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Events parked after failing (docs/operations.md); null: the broker "
            "did not answer"
        },
    )


# -- operations: parked events --------------------------------------------------
class ParkedQuery(QuerySchema):
    consumer = fields.String(validate=length(1, 200))
    limit = fields.Integer(validate=between(1, 1000))


class ParkedEventQuery(QuerySchema):
    event_id = fields.String(validate=length(1, 64))


class ParkedMessage(BaseSchema):
    consumer = fields.String()
    event_id = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    institution_id = fields.Integer(allow_none=True)
    error_type = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    attempts = fields.Integer(allow_none=True)
    parked_at = fields.String(allow_none=True)


class ParkedList(BaseSchema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    total = fields.Integer()
    items = fields.List(fields.Nested(ParkedMessage))


class ParkedResult(BaseSchema):
    consumer = fields.String()
    count = fields.Integer()


# -- students and placements ------------------------------------------------
STUDENT_TYPE = {"validate": one_of("potential_transfer", "non_transfer")}


class _StudentRecordIn(BaseSchema):
    bsn = fields.String(allow_none=True, validate=length(0, 20))
    onderwijsnummer = fields.String(allow_none=True, validate=length(0, 20))
    date_of_birth = fields.Date(allow_none=True)
    home_class = fields.String(allow_none=True, validate=length(0, 40))
    year_of_education = fields.Integer(allow_none=True, validate=between(1, 8))
    track = fields.String(allow_none=True, validate=length(0, 40))


class StudentCreate(_StudentRecordIn):
    student_number = fields.String(required=True, validate=length(1, 20))
    type = fields.String(required=True, **STUDENT_TYPE)
    initials = fields.String(required=True, validate=length(1, 20))
    first_name = fields.String(required=True, validate=length(1, 100))
    prefix = fields.String(allow_none=True, validate=length(0, 30))
    last_name = fields.String(required=True, validate=length(1, 100))
    gender = fields.String(**GENDER)
    email = fields.String(allow_none=True, validate=length(0, 254))


class StudentUpdate(_StudentRecordIn, PersonIn):
    type = fields.String(**STUDENT_TYPE)


LEAVE_STATUS = fields.String(
    validate=one_of("active", "leaving", "left"),
    metadata={
        "description": "active; leaving: a leave date in the future is planned (carried out on "
        "that day); left: the student left school (participations removed, user "
        "archived)"
    },
)


class Student(PersonOut):
    student_number = fields.String()
    type = fields.String()
    bsn = fields.String(allow_none=True, metadata={"description": "masked unless ?reveal=bsn"})
    onderwijsnummer = fields.String(allow_none=True)
    date_of_birth = fields.String(allow_none=True)
    year_of_education = fields.Integer(allow_none=True)
    track = fields.String(allow_none=True)
    home_class = fields.String(allow_none=True)
    registered = fields.Boolean()
    archived = fields.Boolean()
    left_at = fields.String(allow_none=True)
    leave_date = fields.String(
        allow_none=True, metadata={"description": "YYYY-MM-DD: the day the student leaves or left"}
    )
    status = LEAVE_STATUS


StudentPage = page_of(Student)


class StudentListQuery(PageQuery):
    q = fields.String(load_default=None, validate=length(0, 200))
    home_class = fields.String(load_default=None)
    year_of_education = fields.Integer(load_default=None)
    track = fields.String(load_default=None)
    registered = fields.Boolean(load_default=None)
    type = fields.String(load_default=None, **STUDENT_TYPE)
    left = fields.Boolean(
        load_default=None,
        metadata={
            "description": "false: leave out students who left school (a planned leave still "
            "shows); true: only those who left"
        },
    )


class RevealQuery(QuerySchema):
    reveal = fields.String(validate=one_of("bsn"))


class LeaveRequest(BaseSchema):
    date = fields.Date(
        allow_none=True,
        metadata={
            "description": "the day the student leaves (default today); a day in the future is "
            "planned and carried out on that day"
        },
    )


class LeaveResult(BaseSchema):
    student_number = fields.String()
    removed_participations = fields.List(fields.Integer())
    archived = fields.Boolean()
    leave_date = fields.String(metadata={"description": "YYYY-MM-DD"})
    status = LEAVE_STATUS


class AuditQuery(PageQuery):
    student_number = fields.String(load_default=None)


class ProjectCreate(BaseSchema):
    name = fields.String(required=True, validate=length(1, 200))
    school_year = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{4}-\d{4}$", error="invalid"),
        metadata={"example": "2025-2026"},
    )
    branch = fields.String(required=True, validate=length(1, 100))


class Project(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    school_year = fields.String()
    branch = fields.String()


class LearningPath(BaseSchema):
    code = fields.String(required=True, validate=length(1, 40))
    name = fields.String(allow_none=True, validate=length(0, 200))
    element_code = fields.String(required=True, validate=length(1, 40))


class DepartmentCreate(BaseSchema):
    code = fields.String(required=True, validate=length(1, 40))
    year_of_education = fields.Integer(required=True, validate=between(1, 8))
    education = fields.String(required=True, validate=length(1, 100))
    home_class_authority = fields.String(required=True, validate=one_of("portal", "desktop"))
    learning_paths = fields.List(fields.Nested(LearningPath), load_default=list)


class DepartmentUpdate(BaseSchema):
    home_class_authority = fields.String(
        validate=one_of("portal", "desktop"),
        metadata={
            "description": "who leads the home classes from now on: portal (school staff and "
            "mentors) or desktop (the scheduler's application)"
        },
    )
    year_of_education = fields.Integer(validate=between(1, 8))
    education = fields.String(validate=length(1, 100))


class Department(DepartmentCreate):
    id = fields.Integer()
    project_id = fields.Integer()


class LearningPaths(BaseSchema):
    learning_paths = fields.List(fields.Nested(LearningPath), required=True)


class _PlacementIn(BaseSchema):
    forecast = fields.Integer(allow_none=True, validate=between(0, 100))
    profile = fields.String(allow_none=True, validate=length(0, 100))
    programme = fields.String(allow_none=True, validate=length(0, 100))
    learning_path = fields.String(allow_none=True, validate=length(0, 40))
    home_class = fields.String(allow_none=True, validate=length(0, 40))


class ParticipationCreate(_PlacementIn):
    student_number = fields.String(required=True, validate=length(1, 20))
    department = fields.String(required=True, validate=length(1, 40))
    lwoo = fields.Boolean(load_default=False)


class ParticipationUpdate(_PlacementIn):
    department = fields.String(validate=length(1, 40))
    keep_package = fields.Boolean()
    lwoo = fields.Boolean()


class Participation(BaseSchema):
    id = fields.Integer()
    project_id = fields.Integer()
    school_year = fields.String()
    student_number = fields.String()
    department = fields.String(
        metadata={
            "description": "one participation per student per department of a project; a "
            "student in several departments has one each, every one with a "
            "forecast, together at most 100"
        }
    )
    forecast = fields.Integer(allow_none=True, metadata={"description": "0-100"})
    profile = fields.String(allow_none=True)
    programme = fields.String(allow_none=True)
    learning_path = fields.String(allow_none=True)
    home_class = fields.String(allow_none=True)
    lwoo = fields.Boolean()
    first_name = fields.String(allow_none=True, metadata={"description": "with ?names=true"})
    prefix = fields.String(allow_none=True, metadata={"description": "with ?names=true"})
    last_name = fields.String(allow_none=True, metadata={"description": "with ?names=true"})


class ParticipationQuery(PageQuery):
    department = fields.String(load_default=None)
    student_number = fields.String(
        load_default=None,
        validate=length(1, 50),
        metadata={"description": "only this student's participations (one per department)"},
    )
    home_class = fields.String(
        load_default=None,
        validate=length(1, 50),
        metadata={"description": "only participations with this home class (regardless of case)"},
    )
    names = fields.Boolean(
        load_default=False,
        metadata={
            "description": "true: each item carries the student's first_name, prefix, last_name"
        },
    )


class StudentParticipation(Participation):
    project_name = fields.String()
    branch = fields.String()


class Package(BaseSchema):
    subjects = fields.List(fields.String(validate=length(1, 20)), required=True)
    exemptions = fields.List(fields.String(validate=length(1, 20)), load_default=list)


class GroupCreate(BaseSchema):
    code = fields.String(required=True, validate=length(1, 60))
    department = fields.String(required=True, validate=length(1, 40))
    kind = fields.String(required=True, validate=one_of("home_class", "cluster"))
    subject = fields.String(allow_none=True, validate=length(0, 20))


class Group(GroupCreate):
    id = fields.Integer()
    project_id = fields.Integer()
    student_numbers = fields.List(fields.String())


class GroupMembers(BaseSchema):
    student_numbers = fields.List(fields.String(validate=length(1, 20)), required=True)


class MentorClasses(BaseSchema):
    mentor = fields.String(dump_only=True, metadata={"description": "the mentor's user code"})
    home_classes = fields.List(
        fields.String(validate=length(1, 50)),
        required=True,
        metadata={
            "description": "the home classes the mentor looks after (at most 50); their students "
            "are those whose record's home class is one of them"
        },
    )


class MentorStudentsQuery(PageQuery):
    project_id = fields.Integer(
        load_default=None,
        metadata={
            "description": "the project whose participations are shown (default: the newest "
            "school year's)"
        },
    )


class MentorParticipation(Participation):
    home_class_authority = fields.String(metadata={"enum": ["portal", "desktop"]})
    may_change = fields.List(
        fields.String(),
        metadata={
            "description": "what the mentor may change here: forecast, and home_class where the "
            "portal leads the department's home classes"
        },
    )


class MentorStudent(BaseSchema):
    student_number = fields.String()
    first_name = fields.String(allow_none=True)
    prefix = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    home_class = fields.String(allow_none=True, metadata={"description": "the record's (now)"})
    year_of_education = fields.Integer(allow_none=True)
    track = fields.String(allow_none=True)
    status = LEAVE_STATUS
    participations = fields.List(
        fields.Nested(MentorParticipation),
        metadata={"description": "in the project, one per department"},
    )


MentorStudentPage = page_of(
    MentorStudent,
    mentor=fields.String(),
    home_classes=fields.List(fields.String()),
    project=fields.Nested(Project, allow_none=True),
)


ProjectPage = page_of(Project)
DepartmentPage = page_of(Department)
ParticipationPage = page_of(Participation)
StudentParticipationPage = page_of(StudentParticipation)
GroupPage = page_of(Group)
