"""deploy/run.py: environment, commands, child supervision and the health wait.

The children here are dummy `python -c "sleep"` processes and the gateway is a
stub HTTP server, so this runs without the real system.
"""
import http.server
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from deploy import run
from services.common.config import SERVICES

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
STUBBORN = [sys.executable, "-c", textwrap.dedent("""
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print('ready', flush=True)
    time.sleep(120)
""")]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- env / commands

def test_build_env_defaults(tmp_path):
    env = run.build_env({"PATH": "/bin"}, root=tmp_path)
    assert env["LEERLINGBUS_DATA_DIR"] == str(tmp_path / "var")
    assert env["LEERLINGBUS_HTTP_PORT"] == "8000"
    assert env["AMQP_URI"] == "amqp://guest:guest@127.0.0.1:5672/"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(tmp_path)
    assert env["PATH"] == "/bin"
    assert run.health_url(env) == "http://127.0.0.1:8000/health"


def test_build_env_keeps_what_is_set(tmp_path):
    env = run.build_env({
        "LEERLINGBUS_DATA_DIR": "data", "LEERLINGBUS_HTTP_PORT": "8123",
        "AMQP_URI": "amqp://u:p@127.0.0.1:5672/lb", "USERS_DATABASE_URL": "postgresql://x/users",
        "PYTHONPATH": "/opt/x",
    }, root=tmp_path)
    assert env["LEERLINGBUS_DATA_DIR"] == str(tmp_path / "data")
    assert run.http_port(env) == 8123
    assert run.health_url(env) == "http://127.0.0.1:8123/health"
    assert env["AMQP_URI"] == "amqp://u:p@127.0.0.1:5672/lb"
    assert env["USERS_DATABASE_URL"] == "postgresql://x/users"
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path), "/opt/x"]

    absolute = run.build_env({"LEERLINGBUS_DATA_DIR": str(tmp_path / "abs")}, root=ROOT)
    assert absolute["LEERLINGBUS_DATA_DIR"] == str(tmp_path / "abs")


def test_component_commands_cover_every_service_the_gateway_and_the_web():
    commands = dict(run.component_commands("/venv/bin/python"))
    assert list(commands) == [*SERVICES, "gateway", "web"]
    assert commands["web"] == ["/venv/bin/python", "-m", "web"]
    for name in SERVICES:
        argv = commands[name]
        assert argv[-4:] == ["run", "--config", str(run.CONFIG_PATH), f"services.{name}.service"]
        assert argv[0] == "/venv/bin/python"
    assert commands["gateway"] == ["/venv/bin/python", "-m", "gateway"]
    assert run.CONFIG_PATH.is_file()


def test_replicas_repeat_a_component_under_numbered_names():
    replicas = run.parse_replicas("students=3, uploads=2,gateway=2,oso=1")
    assert replicas == {"students": 3, "uploads": 2, "gateway": 2, "oso": 1}
    commands = run.component_commands("/venv/bin/python", replicas=replicas)
    names = [name for name, _ in commands]
    assert names == ["users", "students-1", "students-2", "students-3", "uploads-1",
                     "uploads-2", "sync", "oso", "gateway-1", "gateway-2", "web"]
    argv = dict(commands)
    assert argv["students-1"] == argv["students-3"]  # the same queues
    assert argv["students-2"][-1] == "services.students.service"
    assert argv["gateway-2"] == ["/venv/bin/python", "-m", "gateway"]
    assert run.replica_env({"A": "1"}, "students-2") == {"A": "1",
                                                         "LEERLINGBUS_REPLICA": "students-2"}


@pytest.mark.parametrize("text, says", [
    ("web=2", "'web' cannot be scaled"),
    ("students", "give students=N"),
    ("students=0", "give students=N"),
    ("students=x", "give students=N"),
    (f"students={run.MAX_REPLICAS + 1}", "give students=N"),
    ("students=2,students=3", "students is named twice"),
    ("nobody=2", "'nobody' cannot be scaled"),
])
def test_replicas_refuses_what_cannot_be_started(text, says):
    with pytest.raises(run.LauncherError, match=says):
        run.parse_replicas(text)


def test_the_launcher_says_why_it_will_not_scale(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEERLINGBUS_DATA_DIR", str(tmp_path))
    assert run.main(["--replicas", "web=2"]) == 2
    assert "'web' cannot be scaled" in capsys.readouterr().err


def test_replicas_on_sqlite_are_named():
    env = {"STUDENTS_DATABASE_URL": "postgresql+psycopg2://x/students"}
    assert run.sqlite_replicas(env, {"students": 2, "uploads": 2, "sync": 1,
                                     "gateway": 2}) == ["uploads"]


def test_nameko_runs_under_the_venv_interpreter():
    argv = run.nameko_command(sys.executable)
    assert argv[0] == sys.executable
    out = subprocess.run(argv + ["--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip().startswith("2.")


def test_missing_components_names_modules(monkeypatch):
    monkeypatch.setattr(run, "module_exists", lambda m: m != "services.sync.service")
    assert run.missing_components() == ["services.sync.service"]


# --------------------------------------------------------------------------- bootstrap output

@pytest.mark.parametrize("text, expected", [
    ("created helpdesk account\npassword: Xy7-abc_12\n", "Xy7-abc_12"),
    ("Helpdesk password = 'q1w2e3'", "q1w2e3"),
    ("institution=platform code=helpdesk password=s3cr3t", "s3cr3t"),
    ("helpdesk account exists; password unchanged", None),
    ("", None),
])
def test_password_from_output(text, expected):
    assert run.password_from_output(text) == expected


def test_helpdesk_password_sources(tmp_path):
    env = {"LEERLINGBUS_DATA_DIR": str(tmp_path)}
    assert run.helpdesk_password(env, "") == (None, None)
    assert run.helpdesk_password(env, "password: printed1") == ("printed1", "bootstrap output")
    stored = tmp_path / run.PASSWORD_FILE
    stored.write_text("stored1\n")
    assert run.helpdesk_password(env, "password: printed1") == ("stored1", str(stored))
    env["LEERLINGBUS_HELPDESK_PASSWORD"] = "fromenv"
    assert run.helpdesk_password(env, "password: printed1") == (
        "fromenv", "LEERLINGBUS_HELPDESK_PASSWORD")


def test_bootstrap_skipped_with_a_warning_when_missing(monkeypatch, capsys):
    monkeypatch.setattr(run, "module_exists", lambda m: False)
    assert run.run_bootstrap(sys.executable, dict(os.environ)) is None
    assert "services.users.bootstrap does not exist yet" in capsys.readouterr().err


def test_banner_shows_url_and_credentials(tmp_path):
    env = {"LEERLINGBUS_DATA_DIR": str(tmp_path), "LEERLINGBUS_HTTP_PORT": "8111",
           "LEERLINGBUS_WEB_PORT": "8222"}
    text = run.banner(env, "pw123", "bootstrap output")
    assert "http://127.0.0.1:8111/" in text
    # the web pages are the address to open
    assert ">>> http://127.0.0.1:8222/ <<<" in text
    assert text.index("8222") < text.index("8111")
    assert "'platform'" in text and "'helpdesk'" in text and "pw123" in text
    assert "helpdesk-password.txt" in run.banner(env, None, None)


# --------------------------------------------------------------------------- supervision

def test_stop_all_terminates_every_child(tmp_path):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path / "logs", console=False)
    a = sup.start("a", SLEEPER)
    b = sup.start("b", SLEEPER)
    assert len(sup.running()) == 2
    # each child leads its own process group, apart from ours
    assert os.getpgid(a.pid) == a.pid != os.getpgid(0)
    codes = sup.stop_all(grace=5)
    assert codes == {"a": -signal.SIGTERM, "b": -signal.SIGTERM}
    assert wait_gone([a.pid, b.pid])
    assert (tmp_path / "logs" / "a.log").read_text().startswith("=== ")


def test_stop_all_kills_a_child_that_ignores_sigterm(tmp_path):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=False)
    child = sup.start("stubborn", STUBBORN)
    deadline = time.monotonic() + 10
    while "ready" not in (tmp_path / "stubborn.log").read_text().splitlines():
        assert time.monotonic() < deadline, "stub never got ready"
        time.sleep(0.05)
    started = time.monotonic()
    codes = sup.stop_all(grace=0.5)
    assert codes == {"stubborn": -signal.SIGKILL}
    assert time.monotonic() - started < 8
    assert wait_gone([child.pid])


def test_child_output_goes_to_its_log(tmp_path, capsys):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=True)
    sup.start("talker", [sys.executable, "-c", "print('hello from talker')"])
    deadline = time.monotonic() + 10
    while sup.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    sup.stop_all(grace=1)
    assert "hello from talker" in (tmp_path / "talker.log").read_text()
    assert "   talker | hello from talker" in capsys.readouterr().out


def test_supervise_restarts_a_dead_child_and_leaves_the_rest(tmp_path, capsys):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=False,
                         policy=run.RestartPolicy(backoff_start=0.1))
    sleeper = sup.start("sleeper", SLEEPER)
    victim = sup.start("victim", [sys.executable, "-c",
                                  "import time; print('victim', 'up', flush=True); time.sleep(120)"])
    first = victim.pid
    wait_for_line(tmp_path / "victim.log", "\nvictim up")
    os.kill(first, signal.SIGKILL)
    stop = threading.Event()
    worker = threading.Thread(target=run.supervise, args=(sup, stop),
                              kwargs={"poll": 0.05, "grace": 5})
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while victim.pid == first or victim.poll() is not None:
            assert time.monotonic() < deadline, "never restarted"
            time.sleep(0.05)
        assert alive(sleeper.pid) and alive(victim.pid) and victim.restarts == 1
    finally:
        stop.set()
        worker.join(timeout=20)
    err = capsys.readouterr().err
    assert "victim (pid %d) died with signal 9" % first in err
    assert "   victim ! victim up" in err  # the end of its log
    assert "restarting victim in 0.1 s" in err
    assert wait_gone([sleeper.pid, victim.pid])


def test_each_replica_is_supervised_on_its_own(tmp_path, capsys):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=False,
                         policy=run.RestartPolicy(backoff_start=0.1))
    shows = [sys.executable, "-c", "import os, time; print('replica', "
             "os.environ['LEERLINGBUS_REPLICA'], flush=True); time.sleep(120)"]
    for name, argv in [("students-1", shows), ("students-2", shows)]:
        sup.start(name, argv, env=run.replica_env(dict(os.environ), name))
    one, two = sup.child("students-1"), sup.child("students-2")
    wait_for_line(tmp_path / "students-2.log", "\nreplica students-2")
    first = two.pid
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while two.pid == first or two.poll() is not None:
        assert time.monotonic() < deadline, "never restarted"
        sup.tick()
        time.sleep(0.05)
    wait_for_line(tmp_path / "students-2.log", "\nreplica students-2", count=2)
    assert (one.restarts, two.restarts) == (0, 1) and alive(one.pid)
    assert "replica students-1" in (tmp_path / "students-1.log").read_text()
    sup.stop_all(grace=5)
    assert "students-2 (pid %d) died with signal 9" % first in capsys.readouterr().err


def test_back_off_doubles_and_resets_after_a_stable_run():
    policy = run.RestartPolicy(backoff_start=0.5, backoff_max=4)
    assert [policy.backoff(n) for n in range(5)] == [0.5, 1, 2, 4, 4]


def test_a_crash_loop_stops_the_launcher(tmp_path, capsys):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=False,
                         policy=run.RestartPolicy(backoff_start=0.01, crash_limit=3,
                                                  crash_window=60))
    sleeper = sup.start("sleeper", SLEEPER)
    sup.start("crasher", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    stop = threading.Event()
    started = time.monotonic()
    assert run.supervise(sup, stop, poll=0.05, grace=5) == 1
    assert time.monotonic() - started < 30
    assert wait_gone([sleeper.pid])
    crasher = sup.child("crasher")
    assert crasher.poll() == 3 and crasher.restarts == 2
    err = capsys.readouterr().err
    assert "crasher crashed 3 times within 60 s (a crash loop); stopping everything" in err
    assert "  crasher ! boom" in err


def test_crashes_spread_out_are_not_a_loop(tmp_path):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=False,
                         policy=run.RestartPolicy(backoff_start=0.01, crash_limit=2,
                                                  crash_window=5))
    child = sup.start("crasher", [sys.executable, "-c", "import sys; sys.exit(1)"])
    child.process.wait(timeout=10)
    sup.tick(now=100.0)
    child.restart_at = None
    child.process.wait(timeout=10)
    child.started_at = 101.0
    sup.tick(now=110.0)  # 10 s after the first crash: outside the window
    assert len(child.crashes) == 1
    sup.stop_all(grace=1)


def test_a_second_launcher_on_the_same_data_dir_is_refused(tmp_path):
    held = run.acquire_lock(tmp_path)
    try:
        with pytest.raises(run.LauncherError) as refused:
            run.acquire_lock(tmp_path)
        assert f"another launcher (pid {os.getpid()}) is already running" in str(refused.value)
    finally:
        held.close()
    run.acquire_lock(tmp_path).close()  # free again once the holder is gone


def wait_for_line(path, line, timeout=10, count=1):
    deadline = time.monotonic() + timeout
    while (path.read_text() if path.exists() else "").count(line) < count:
        assert time.monotonic() < deadline, f"{line!r} never appeared in {path}"
        time.sleep(0.05)


def test_supervise_stops_everything_on_request(tmp_path):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=False)
    pids = [sup.start(n, SLEEPER).pid for n in ("one", "two")]
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    assert run.supervise(sup, stop, poll=0.1, grace=5) == 0
    assert wait_gone(pids)


LAUNCHER = textwrap.dedent("""
    import os, sys, threading
    from deploy import run
    stop = threading.Event()
    run.install_signal_handlers(stop)
    sup = run.Supervisor(env=dict(os.environ), log_dir=sys.argv[1], console=False)
    children = [sup.start(n, [sys.executable, "-c", "import time; time.sleep(120)"])
                for n in ("alpha", "beta")]
    print(" ".join(str(c.pid) for c in children), flush=True)
    sys.exit(run.supervise(sup, stop, poll=0.1, grace=5))
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_launcher_process_stops_its_children_on_a_signal(tmp_path, sig):
    """The real thing in a plain (not monkey-patched) interpreter, as `make run` runs it."""
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(tmp_path)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in launcher.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        launcher.send_signal(sig)
        assert launcher.wait(timeout=20) == 0
        assert wait_gone(pids)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


# --------------------------------------------------------------------------- health wait

class StubGateway:
    """GET /health answers 503 with some services down until `healthy` is set."""

    def __init__(self):
        self.healthy = False
        self.calls = 0
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                stub.calls += 1
                ok = stub.healthy
                services = {name: "ok" for name in SERVICES}
                if not ok:
                    services["sync"] = services["oso"] = "down"
                body = json.dumps({"status": "ok" if ok else "degraded",
                                   "services": services}).encode()
                self.send_response(200 if ok and self.path == "/health" else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_gateway():
    stub = StubGateway()
    yield stub
    stub.close()


def test_health_wait_succeeds_once_everything_answers(stub_gateway):
    threading.Timer(0.5, lambda: setattr(stub_gateway, "healthy", True)).start()
    result = run.wait_for_health(stub_gateway.url, timeout=10, interval=0.1)
    assert result.ok and result.status == 200
    assert stub_gateway.calls >= 2


def test_health_wait_waits_for_the_web_pages_too(stub_gateway):
    import socket
    stub_gateway.healthy = True
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{sock.getsockname()[1]}/inloggen"
    sock.close()
    result = run.wait_for_health(stub_gateway.url, timeout=0.5, interval=0.1, also=[closed])
    assert not result.ok and result.describe().startswith("web pages not answering")
    assert run.wait_for_health(stub_gateway.url, timeout=2, interval=0.1,
                               also=[stub_gateway.url]).ok


def test_build_env_points_the_web_at_the_gateway(tmp_path):
    env = run.build_env({"LEERLINGBUS_DATA_DIR": str(tmp_path), "LEERLINGBUS_HTTP_PORT": "8123"},
                        root=ROOT)
    assert env["LEERLINGBUS_WEB_PORT"] == "8080"
    assert env["LEERLINGBUS_GATEWAY_URL"] == "http://127.0.0.1:8123"
    kept = run.build_env({"LEERLINGBUS_GATEWAY_URL": "http://gw:9000", "LEERLINGBUS_WEB_PORT":
                          "9090"}, root=ROOT)
    assert kept["LEERLINGBUS_GATEWAY_URL"] == "http://gw:9000" and kept["LEERLINGBUS_WEB_PORT"] == "9090"


def test_health_wait_reports_which_services_are_down(stub_gateway):
    result = run.wait_for_health(stub_gateway.url, timeout=0.5, interval=0.1)
    assert not result.ok and result.status == 503
    assert result.describe() == "services not answering: oso, sync"


def test_health_wait_reports_a_gateway_that_does_not_answer():
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = run.wait_for_health(f"http://127.0.0.1:{port}/health", timeout=0.3, interval=0.1)
    assert not result.ok and result.status is None
    assert result.describe().startswith("gateway not answering")


def test_health_wait_gives_up_when_a_child_exits(tmp_path, stub_gateway):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=False)
    sup.start("users", [sys.executable, "-c", "raise SystemExit(2)"])
    started = time.monotonic()
    result = run.wait_for_health(stub_gateway.url, timeout=30, interval=0.1, supervisor=sup)
    sup.stop_all(grace=1)
    assert time.monotonic() - started < 15
    assert not result.ok
    assert "exited: users (exit 2)" in result.describe()


def test_down_services_accepts_both_shapes():
    assert run.down_services({"services": {"a": "ok", "b": "down"}}) == ["b"]
    assert run.down_services({"services": {"a": {"status": "ok"}, "b": {"status": "error"}}}) \
        == ["b"]
    assert run.down_services(None) == []


def test_children_die_with_a_launcher_killed_outright(tmp_path):
    """SIGKILL cannot be handled; the children still go (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("parent-death signal is Linux only")
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(tmp_path)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in launcher.stdout.readline().split()]
        time.sleep(0.5)  # let the trampolines exec the real commands
        assert all(alive(p) for p in pids)
        launcher.kill()
        launcher.wait(timeout=10)
        assert wait_gone(pids)
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, NameError):
                pass


def test_watched_child_keeps_its_pid_and_command(tmp_path):
    sup = run.Supervisor(env=dict(os.environ), log_dir=tmp_path, console=False)
    child = sup.start("echo", [sys.executable, "-c", "import os; print('pid', os.getpid())"])
    child.process.wait(timeout=10)
    sup.stop_all(grace=1)
    log = (tmp_path / "echo.log").read_text()
    assert f"pid {child.pid}" in log
    assert child.argv == [sys.executable, "-c", "import os; print('pid', os.getpid())"]
