"""End to end: the reference desktop client against the running system."""
import io
import json

from services.sync import client
from tests.helpers import wait_until
from tests.sync.conftest import PASSWORD, build_portal, desktop_snapshot


def test_reference_client_full_cycle(system, school, tmp_path):
    project, _parts, _groups = build_portal(school)
    path = tmp_path / "project.json"
    path.write_text(json.dumps(desktop_snapshot()))
    base = ["--url", system.base_url, "--institution", school.institution["brin"],
            "--code", "rooster1", "--password", PASSWORD, "--project", str(project["id"]),
            "--file", str(path)]

    def run(*args):
        out = io.StringIO()
        code = client.main(base + list(args), out=out)
        assert code == 0, out.getvalue()
        return out.getvalue()

    def data():
        return json.loads(path.read_text())

    def status():
        return client.run(client._parser().parse_args(base + ["--json", "status"]),
                          out=io.StringIO())

    # opening the project takes the personal data over by itself
    text = run("open")
    assert "Persoonsgegevens overgenomen: 1" in text and "Pakketkeuzes" in text
    assert "2 [1]" in text  # two package differences, one of them in the exemptions
    eva = next(s for s in data()["students"] if s["student_number"] == "1002")
    assert eva["last_name"] == "Smit"

    assert "P=80 D=100" in run("differences", "forecasts")
    run("download", "students")
    numbers = {s["student_number"] for s in data()["students"]}
    assert "1004" in numbers and "2002" not in numbers
    assert "1 wijziging(en) naar het portal" in run("upload", "students")
    run("download", "personal_data")  # the new account's e-mail came from #EMAIL
    for category in ("participations", "lwoo", "forecasts", "packages"):
        run("download", category)
    run("download", "home_classes", "--department", "h4")
    run("upload", "home_classes")
    run("upload", "groups")

    # the desktop's file now agrees with the portal in every category
    result = client.run(client._parser().parse_args(base + ["--json", "push"]),
                        out=io.StringIO())
    assert {c: result["status"][c]["status"] for c in client.CATEGORIES} == \
        {c: "ok" for c in client.CATEGORIES}, result["status"]
    hugo = next(s for s in data()["students"] if s["student_number"] == "2001")
    assert hugo["email"] == "hugo@example.nl"
    # the portal read kept, or a later one (the uploads' events have it read again)
    assert status()["as_of"] >= result["as_of"]

    # the mutation feed shows what the uploads changed in the portal
    def feed():
        answer = client.run(client._parser().parse_args(base + ["--json", "mutations"]),
                            out=io.StringIO())
        return any(m["student_number"] == "2001" for m in answer["items"])

    wait_until(feed, timeout=15)

    # refusals come back as a message and exit code 1
    assert client.main(base + ["upload", "personal_data"], out=io.StringIO()) == 1
