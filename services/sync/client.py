"""A reference desktop client of the portal connector (docs/connector.md).

It plays the scheduling desktop on a JSON project file in the snapshot format
of docs/connector.md: push the file as the snapshot, show the status table and the
differences, download selected changes INTO the file, upload students and
groups. Only the standard library: a desktop vendor can copy its calls.

    python -m services.sync.client --url http://127.0.0.1:8000 \\
        --institution 00AB --code rooster1 --project 3 --file project.json open
    python -m services.sync.client ... status --refresh
    python -m services.sync.client ... differences forecasts --department h4
    python -m services.sync.client ... download forecasts --department h4 --student 123456
    python -m services.sync.client ... upload groups

The password comes from --password or LEERLINGBUS_PASSWORD; a token from
--token or LEERLINGBUS_TOKEN instead of logging in.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

CATEGORIES = ("students", "personal_data", "participations", "lwoo", "home_classes",
              "forecasts", "packages", "groups")
LABELS = {"students": "Leerlingen", "personal_data": "Persoonsgegevens",
          "participations": "Afdelingsdeelname", "lwoo": "LWOO",
          "home_classes": "Stamklassen", "forecasts": "Prognoses",
          "packages": "Pakketkeuzes", "groups": "Groepsindelingen"}


class ConnectorError(Exception):
    """A problem+json answer of the portal (status, code, detail, errors)."""

    def __init__(self, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {"detail": str(body)}
        self.code = self.body.get("code")
        super().__init__(f"{status} {self.code}: {self.body.get('detail')}")


class Connector:
    """The connector API of one project, as the desktop calls it."""

    def __init__(self, url, token, project_id, timeout=60):
        self.base = url.rstrip("/") + "/api/v1"
        self.token = token
        self.project_id = project_id
        self.timeout = timeout

    @classmethod
    def login(cls, url, institution, code, password, project_id):
        body = _request("POST", url.rstrip("/") + "/api/v1/auth/token", None,
                        {"institution": institution, "code": code, "password": password})
        return cls(url, body["access_token"], project_id)

    def _call(self, method, tail, body=None, query=None):
        url = f"{self.base}/sync/{self.project_id}/{tail}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items()
                                                 if v is not None})
        return _request(method, url, self.token, body, self.timeout)

    def push(self, snapshot):
        return self._call("PUT", "snapshot", snapshot)

    def status(self, refresh=False):
        return self._call("GET", "status", query={"refresh": "true" if refresh else None})

    def differences(self, category, department=None):
        return self._call("GET", f"differences/{category}", query={"department": department})

    def download(self, category, departments=None, student_numbers=None):
        return self._call("POST", f"download/{category}",
                          _selection(departments, student_numbers))

    def upload(self, category, departments=None, student_numbers=None):
        return self._call("POST", f"upload/{category}", _selection(departments, student_numbers))

    def mutations(self, since=None, page=1, page_size=500):
        return self._call("GET", "mutations", query={"since": since, "page": page,
                                                     "page_size": page_size})


def _selection(departments, student_numbers):
    body = {}
    if departments:
        body["departments"] = list(departments)
    if student_numbers:
        body["student_numbers"] = list(student_numbers)
    return body


def _request(method, url, token, body=None, timeout=60):
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            problem = json.loads(raw)
        except ValueError:
            problem = {"detail": raw.decode("utf-8", "replace")}
        raise ConnectorError(exc.code, problem) from None


# --- the desktop's own data: applying downloaded changes to the project file ------------

def _index(items, key="student_number"):
    return {item.get(key): item for item in items}


def _by_department(items):
    """{(student_number, department): item} of participations or packages."""
    return {(item.get("student_number"), item.get("department")): item for item in items}


def _home_class_groups(project, number, department, new_code):
    for group in project.get("groups") or []:
        if group.get("kind") != "home_class" or group.get("department") != department:
            continue
        members = group.setdefault("student_numbers", [])
        if group.get("code") == new_code and number not in members:
            members.append(number)
        elif group.get("code") != new_code and number in members:
            members.remove(number)


def _empty_participation(number, department):
    return {"student_number": number, "department": department, "forecast": None,
            "lwoo": False, "home_class": None, "profile": None, "programme": None}


def apply_changes(project, category, changes):
    """Apply a download's changes to the project file's data (in place), as a
    desktop applies them to its own model. Participations and packages are
    per student and department. Returns the project."""
    for key in ("students", "participations", "packages", "groups"):
        if project.get(key) is None:
            project[key] = []
    students = _index(project["students"])
    parts = _by_department(project["participations"])
    packages = _by_department(project["packages"])
    for change in changes:
        number, action = change["student_number"], change["action"]
        department = change.get("department")
        if category == "students" and action == "add":
            record = {"student_number": number, **change["values"], "properties": {}}
            project["students"].append(record)
            students[number] = record
            for placed in change.get("participations") or [change["participation"]]:
                part = {**_empty_participation(number, None), **placed}
                project["participations"].append(part)
                parts[(number, part["department"])] = part
        elif category == "students" and action == "remove":
            project["students"] = [s for s in project["students"]
                                   if s.get("student_number") != number]
            project["participations"] = [p for p in project["participations"]
                                         if p.get("student_number") != number]
            project["packages"] = [p for p in project["packages"]
                                   if p.get("student_number") != number]
            for group in project["groups"]:
                group["student_numbers"] = [n for n in group.get("student_numbers") or []
                                            if n != number]
            students.pop(number, None)
            parts = _by_department(project["participations"])
            packages = _by_department(project["packages"])
        elif category == "personal_data":
            students[number].update(change["values"])
        elif category == "packages":
            package = packages.get((number, department))
            if package is None:
                package = packages[(number, department)] = {"student_number": number,
                                                            "department": department}
                project["packages"].append(package)
            package.update(change["values"])
        elif category == "participations" and action == "remove":
            gone = parts.pop((number, department), None)
            project["participations"] = [p for p in project["participations"] if p is not gone]
            project["packages"] = [p for p in project["packages"]
                                   if (p.get("student_number"), p.get("department"))
                                   != (number, department)]
            packages.pop((number, department), None)
            left = set(change.get("left_groups") or [])
            for group in project["groups"]:
                if group.get("code") in left:
                    group["student_numbers"] = [n for n in group.get("student_numbers") or []
                                                if n != number]
        else:  # participations, lwoo, forecasts, home_classes: set (creating when missing)
            part = parts.get((number, department))
            if part is None:
                part = parts[(number, department)] = _empty_participation(number, department)
                project["participations"].append(part)
            part.update(change["values"])
            if category == "home_classes":
                _home_class_groups(project, number, department, part.get("home_class"))
    return project


def load_project(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def save_project(path, project):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(project, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


# --- printing ------------------------------------------------------------------------------

def status_table(status):
    lines = [f"{'Categorie':<20}{'Status':<14}{'Verschillen':>12}{'Download':>10}{'Upload':>8}"]
    for category in CATEGORIES:
        entry = status.get(category) or {}
        count = str(entry.get("differences", 0))
        if category == "packages" and entry.get("exemptions"):
            count += f" [{entry['exemptions']}]"
        state = "OK" if entry.get("status") == "ok" else "verschillen"
        lines.append(f"{LABELS[category]:<20}{state:<14}{count:>12}"
                     f"{entry.get('download', 0):>10}{entry.get('upload', 0):>8}")
    lines.append(f"Stand van het portal: {status.get('as_of')}"
                 + (f"; {status['mutations_since_as_of']} mutatie(s) sindsdien"
                    if status.get("mutations_since_as_of") else ""))
    return "\n".join(lines)


def _value(value):
    if isinstance(value, list):
        return ",".join(value) or "-"
    return "-" if value is None else str(value)


def differences_table(result):
    lines = []
    for dept in result.get("departments") or []:
        if dept.get("differences") or result.get("category") == "home_classes":
            leads = {"portal": "portal leidend", "desktop": "desktop leidend"}.get(
                dept.get("home_class_authority"), "niet in het portal")
            lines.append(f"Afdeling {dept.get('code')}: {dept.get('differences', 0)} "
                         f"verschil(len), stamklassen: {leads}")
        if dept.get("packages_in_portal") is False:
            lines.append(dept.get("note") or "")
    for item in result.get("items") or []:
        fields = "; ".join(f"{f}: P={_value(pd['P'])} D={_value(pd['D'])}"
                           for f, pd in item["fields"].items())
        lines.append(f"{item['student_number']:>10} {item.get('name') or '':<28} "
                     f"{item.get('department') or '-':<6} {item['direction']:<9} {fields}")
    lines.append(f"Totaal: {result.get('total', 0)}")
    return "\n".join(lines)


# --- the command line ------------------------------------------------------------------------

def _parser():
    parser = argparse.ArgumentParser(prog="python -m services.sync.client",
                                     description="Reference desktop client of the Leerlingbus "
                                                 "portal connector.")
    parser.add_argument("--url", default=os.environ.get("LEERLINGBUS_URL",
                                                        "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("LEERLINGBUS_TOKEN"))
    parser.add_argument("--institution", help="BRIN of the school")
    parser.add_argument("--code", help="the scheduler's user code")
    parser.add_argument("--password", default=os.environ.get("LEERLINGBUS_PASSWORD"))
    parser.add_argument("--project", type=int, required=True, help="project id in the portal")
    parser.add_argument("--file", required=True, help="the desktop's project file (JSON)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answers")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("push", help="send the project file as the snapshot")
    sub.add_parser("open", help="push, then take over personal data (what opening a "
                                "project does)")
    status = sub.add_parser("status", help="the status table")
    status.add_argument("--refresh", action="store_true", help="read the portal again")
    differences = sub.add_parser("differences", help="differences of one category")
    differences.add_argument("category", choices=CATEGORIES)
    differences.add_argument("--department")
    for name in ("download", "upload"):
        move = sub.add_parser(name, help=f"{name} the selected changes of a category")
        move.add_argument("category", choices=CATEGORIES)
        move.add_argument("--department", action="append", dest="departments")
        move.add_argument("--student", action="append", dest="student_numbers")
    mutations = sub.add_parser("mutations", help="what changed in the portal since a moment")
    mutations.add_argument("--since")
    return parser


def connect(args):
    if args.token:
        return Connector(args.url, args.token, args.project)
    if not (args.institution and args.code and args.password):
        raise SystemExit("Geef --token, of --institution, --code en --password "
                         "(of LEERLINGBUS_PASSWORD).")
    return Connector.login(args.url, args.institution, args.code, args.password, args.project)


def run(args, out=sys.stdout):
    """Carry out one command; returns the API's last answer."""
    connector = connect(args)

    def show(result, text):
        print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else text, file=out)

    if args.command in ("push", "open"):
        result = connector.push(load_project(args.file))
        if args.command == "open":
            download = connector.download("personal_data")
            if download["changes"]:
                save_project(args.file, apply_changes(load_project(args.file), "personal_data",
                                                      download["changes"]))
            result = connector.status()
            show(result, f"Persoonsgegevens overgenomen: {download['count']}\n"
                         + status_table(result))
        else:
            show(result, status_table(result["status"]))
        return result
    if args.command == "status":
        result = connector.status(refresh=args.refresh)
        show(result, status_table(result))
        return result
    if args.command == "differences":
        result = connector.differences(args.category, args.department)
        show(result, differences_table(result))
        return result
    if args.command == "download":
        result = connector.download(args.category, args.departments, args.student_numbers)
        if result["changes"]:
            save_project(args.file, apply_changes(load_project(args.file), args.category,
                                                  result["changes"]))
        lines = [f"{result['count']} wijziging(en) overgenomen in {args.file}."]
        lines += [f"Overgeslagen: {s['message']}" for s in result.get("skipped") or []]
        show(result, "\n".join(lines))
        return result
    if args.command == "upload":
        result = connector.upload(args.category, args.departments, args.student_numbers)
        lines = [f"{result['count']} wijziging(en) naar het portal."]
        lines += [f"Overgeslagen: {s['message']}" for s in result.get("skipped") or []]
        show(result, "\n".join(lines))
        return result
    if args.command == "mutations":
        result = connector.mutations(args.since)
        lines = [f"{m['recorded_at']} {m['category']:<15} {m.get('student_number') or '-':>10} "
                 f"{m['type']}" for m in result["items"]]
        lines.append(f"Volgende keer: --since {result['as_of']}")
        show(result, "\n".join(lines))
        return result
    raise SystemExit(f"onbekende opdracht {args.command}")  # pragma: no cover


def main(argv=None, out=sys.stdout):
    args = _parser().parse_args(argv)
    try:
        run(args, out)
    except ConnectorError as exc:
        print(f"Fout {exc.status} ({exc.code}): {exc.body.get('detail')}", file=sys.stderr)
        for item in exc.body.get("errors") or []:
            print(f"  - {item.get('message')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
