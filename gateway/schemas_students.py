"""Schemas of students and placements (routes/students.py, routes/placements.py);
the base classes and helpers are in gateway/schemas.py."""

from marshmallow import fields, validate

from .schemas import (
    GENDER,
    BaseSchema,
    PageQuery,
    PersonIn,
    PersonOut,
    QuerySchema,
    between,
    length,
    one_of,
    page_of,
)

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
