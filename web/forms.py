"""Forms on the pages: what was typed, what the API said about it, and the
one way a page sends a form or a button to the API and takes its refusal."""
from dataclasses import dataclass, field

from .client import ApiError

REFUSALS = (400, 409, 422)


@dataclass
class Form:
    """What was typed and what the API said about it, for one form."""
    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)     # field -> [messages]
    general: list = field(default_factory=list)    # messages naming no known field
    status: int = 422                              # the page's status when it has errors

    def value(self, name, default=""):
        v = self.values.get(name)
        return default if v is None else v

    def error(self, name):
        return self.errors.get(name) or []

    @property
    def has_errors(self):
        return bool(self.errors or self.general)

    def add(self, name, message):
        if name:
            self.errors.setdefault(name, []).append(message)
        else:
            self.general.append(message)

    def from_api(self, exc, fields=(), aliases=None):
        """Place the API's Dutch words beside the fields they name."""
        aliases = aliases or {}
        known = set(fields)
        placed = False
        for item in exc.errors:
            name = item.get("field")
            name = aliases.get(name, name)
            message = item.get("message") or exc.detail
            if name in known:
                self.add(name, message)
                placed = True
            elif item.get("row") is None:
                self.general.append(message)
                placed = True
        if not placed:
            name = aliases.get(exc.problem.get("field"), exc.problem.get("field"))
            if name in known:
                self.add(name, exc.detail)
            else:
                self.general.append(exc.detail or "Er ging iets mis. Probeer het opnieuw.")
        return self

    @classmethod
    def typed(cls, data, names):
        """A form holding the named values of a request form, stripped."""
        return cls(values={k: data.get(k, "").strip() for k in names})

    def submit(self, call, fields=(), refusals=REFUSALS, aliases=None):
        """`call()` (an API call) unless the form has errors already. The API's
        answer; on a refusal with a status in `refusals` None, the API's words
        placed beside `fields` and `self.status` set to the refusal's status."""
        if self.has_errors:
            return None
        try:
            return call()
        except ApiError as exc:
            if exc.status not in refusals:
                raise
            self.from_api(exc, fields, aliases=aliases)
            self.status = exc.status
            return None


def act(ctx, call, done, back, refusals=(409,)):
    """A button: run `call()`, flash `done` or the API's refusal, go `back`."""
    try:
        call()
    except ApiError as exc:
        if exc.status not in refusals:
            raise
        ctx.flash(exc.detail, "error")
    else:
        ctx.flash(done)
    return ctx.redirect(back)
