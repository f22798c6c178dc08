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
