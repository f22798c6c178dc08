"""The local launcher behind `make run`.

Over 400 lines: the start-up phases and their options; supervision itself is
deploy/supervise.py.

    python -m deploy.run [--port 8000] [--health-timeout 60] [--no-bootstrap]
                         [--replicas students=3,uploads=2]

1. make sure RabbitMQ answers (deploy/rabbitmq.py; starts a local one if needed);
2. migrate every service's database (`python -m services.common.migrate`);
3. create the platform helpdesk account (`python -m services.users.bootstrap`);
4. start every service (`nameko run --config deploy/config.yaml services.<name>.service`),
   the gateway (`python -m gateway`) and the web pages (`python -m web`), each a child
   in its own process group, logging to <data dir>/logs/<name>.log and to the console
   with a prefix; `--replicas NAME=N,...` starts N processes of a service (or of the
   gateway, which share its port) named <name>-1 .. <name>-N, each supervised on its
   own: replicas of a service consume the same queues (docs/architecture.md, "Running
   and scaling");
5. wait until GET http://127.0.0.1:<port>/health answers 200 and the web pages answer,
   print the address to open (the web pages) and the helpdesk credentials;
6. supervise (deploy/supervise.py): a child that dies is restarted after a back-off
   (0.5 s, doubling up to 30 s), with the end of its log; a crash loop (5 crashes of
   one child within 60 s) stops everything with exit code 1. Ctrl-C or SIGTERM stops
   every child (SIGTERM, then SIGKILL after --grace seconds; a second signal kills at
   once), in any phase. Children die with the launcher even on SIGKILL
   (PR_SET_PDEATHSIG). One launcher per data dir: a second one refuses (exit 3).

A RabbitMQ started in step 1 runs detached and is left running.
"""
import argparse
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deploy.supervise import (  # noqa: F401  (re-exported: tests and tools use run.X)
    PARENT_WATCH,
    Child,
    CrashLoop,
    LauncherError,
    RestartPolicy,
    StopFlag,
    Supervisor,
    acquire_lock,
    console_worthy,
    say,
    supervise,
    tail,
    watched,
)
from services.common.config import SERVICES

ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = ROOT / "deploy" / "config.yaml"
DEFAULT_PORT = 8000
DEFAULT_WEB_PORT = 8080
HELPDESK_INSTITUTION = "platform"
HELPDESK_CODE = "helpdesk"
PASSWORD_FILE = "helpdesk-password.txt"
# What the launcher waits for (and the k8s/compose probes ask, tests/deploy): the
# gateway's /health once at start, the web pages' login page.
HEALTH_PATH = "/health"
WEB_PROBE = "/inloggen"


# --------------------------------------------------------------------------- config

def build_env(base=None, root=ROOT):
    """The environment every child gets: the caller's, with defaults made explicit.

    LEERLINGBUS_DATA_DIR becomes absolute (relative paths are taken from the repo
    root, like `make run` does), so every child agrees on it whatever its cwd.
    """
    env = dict(os.environ if base is None else base)
    data = Path(env.get("LEERLINGBUS_DATA_DIR") or "./var")
    if not data.is_absolute():
        data = (Path(root) / data).resolve()
    env["LEERLINGBUS_DATA_DIR"] = str(data)
    env.setdefault("LEERLINGBUS_HTTP_PORT", str(DEFAULT_PORT))
    if not env.get("LEERLINGBUS_WEB_PORT"):
        env["LEERLINGBUS_WEB_PORT"] = str(DEFAULT_WEB_PORT)
    if not env.get("LEERLINGBUS_GATEWAY_URL"):
        env["LEERLINGBUS_GATEWAY_URL"] = f"http://127.0.0.1:{env['LEERLINGBUS_HTTP_PORT']}"
    if not env.get("AMQP_URI"):
        env["AMQP_URI"] = "amqp://guest:guest@127.0.0.1:5672/"
    env["PYTHONUNBUFFERED"] = "1"
    paths = [str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def data_dir(env) -> Path:
    return Path(env["LEERLINGBUS_DATA_DIR"])


def http_port(env) -> int:
    return int(env.get("LEERLINGBUS_HTTP_PORT") or DEFAULT_PORT)


def web_port(env) -> int:
    return int(env.get("LEERLINGBUS_WEB_PORT") or DEFAULT_WEB_PORT)


def health_url(env) -> str:
    return f"http://127.0.0.1:{http_port(env)}{HEALTH_PATH}"


def web_url(env) -> str:
    return f"http://127.0.0.1:{web_port(env)}/"


def nameko_command(python=sys.executable):
    """`nameko` beside the interpreter (the venv's), run by that interpreter."""
    script = Path(python).with_name("nameko")
    if script.exists():
        return [str(python), str(script)]
    return [str(python), "-c", "from nameko.cli.main import main; main()"]


# What --replicas may scale: every service and the gateway (its processes share
# the port, SO_REUSEPORT). The web pages stay one process.
SCALABLE = (*SERVICES, "gateway")
MAX_REPLICAS = 16


def parse_replicas(text, scalable=SCALABLE):
    """{name: count} from "students=3,uploads=2"; LauncherError naming what is wrong."""
    counts = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        name, sep, number = (x.strip() for x in part.partition("="))
        if name not in scalable:
            raise LauncherError(f"--replicas: '{name}' cannot be scaled; choose from "
                                + ", ".join(scalable))
        if not sep or not number.isdigit() or not 1 <= int(number) <= MAX_REPLICAS:
            raise LauncherError(f"--replicas: give {name}=N with N from 1 to {MAX_REPLICAS} "
                                f"(got '{part}')")
        if name in counts:
            raise LauncherError(f"--replicas: {name} is named twice")
        counts[name] = int(number)
    return counts


def replica_names(name, count):
    """The children's names of one component: itself alone, or name-1 .. name-N."""
    return [name] if count <= 1 else [f"{name}-{i}" for i in range(1, count + 1)]


def component_commands(python=sys.executable, config_path=CONFIG_PATH, services=SERVICES,
                       replicas=None):
    """[(name, argv)] for every service, the gateway and the web pages, in start order;
    `replicas` ({component: N}) repeats a component N times (replica_names)."""
    nameko = nameko_command(python)
    components = [(name, [*nameko, "run", "--config", str(config_path),
                          f"services.{name}.service"]) for name in services]
    components.append(("gateway", [str(python), "-m", "gateway"]))
    components.append(("web", [str(python), "-m", "web"]))
    return [(child, argv) for name, argv in components
            for child in replica_names(name, (replicas or {}).get(name, 1))]


def replica_env(env, child_name):
    """A child's environment: LEERLINGBUS_REPLICA names the replica (students-2) in
    its logs and for tools that look for it (tests/faults/harness.py)."""
    return {**env, "LEERLINGBUS_REPLICA": child_name}


def sqlite_replicas(env, replicas):
    """Services scaled beyond one process whose database is a SQLite file."""
    return [name for name, count in sorted(replicas.items())
            if count > 1 and name in SERVICES
            and not env.get(f"{name.upper()}_DATABASE_URL", "").startswith("postgresql")]


def module_exists(module) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_components(services=SERVICES):
    """Modules the launcher needs that are not (yet) in the tree."""
    wanted = [f"services.{name}.service" for name in services] + ["gateway.__main__",
                                                                    "web.__main__"]
    return [m for m in wanted if not module_exists(m)]


# --------------------------------------------------------------------------- one-shots

def run_migrations(python=sys.executable, env=None, services=SERVICES):
    say("migrating " + ", ".join(services))
    result = subprocess.run([str(python), "-m", "services.common.migrate", *services],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False)
    for line in result.stdout.splitlines():
        if result.returncode != 0 or console_worthy(line):
            print(f"{'migrate':>9} | {line}", flush=True)
    if result.returncode != 0:
        raise LauncherError(f"migrations failed (exit {result.returncode})")


PASSWORD_PATTERN = re.compile(r"password\b[^:=\n]*[:=]\s*(?P<pw>\S+)", re.IGNORECASE)


def password_from_output(text):
    """The password a bootstrap run printed (`password: X`, `password = X`, ...)."""
    for match in PASSWORD_PATTERN.finditer(text or ""):
        pw = match.group("pw").strip("'\"`,;")
        if pw:
            return pw
    return None


def helpdesk_password(env, output=""):
    """(password, where it came from), best source first."""
    if env.get("LEERLINGBUS_HELPDESK_PASSWORD"):
        return env["LEERLINGBUS_HELPDESK_PASSWORD"], "LEERLINGBUS_HELPDESK_PASSWORD"
    path = data_dir(env) / PASSWORD_FILE
    try:
        stored = path.read_text(encoding="utf-8").strip()
    except OSError:
        stored = ""
    if stored:
        return stored, str(path)
    printed = password_from_output(output)
    if printed:
        return printed, "bootstrap output"
    return None, None


def run_bootstrap(python=sys.executable, env=None):
    """Run the users bootstrap; returns its output, or None when it does not exist yet."""
    if not module_exists("services.users.bootstrap"):
        say("WARNING: services.users.bootstrap does not exist yet; "
            "skipping the helpdesk account", sys.stderr)
        return None
    say("bootstrap: python -m services.users.bootstrap")
    result = subprocess.run([str(python), "-m", "services.users.bootstrap"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            check=False)
    for line in result.stdout.splitlines():
        if console_worthy(line):
            print(f"{'bootstrap':>9} | {line}", flush=True)
    if result.returncode != 0:
        raise LauncherError(f"bootstrap failed (exit {result.returncode})")
    return result.stdout


# --------------------------------------------------------------------------- health

def down_services(payload):
    """Names of services a /health body reports as not ok."""
    services = (payload or {}).get("services") or {}
    down = []
    for name, state in services.items():
        if isinstance(state, dict):
            ok = state.get("status") == "ok"
        else:
            ok = state in ("ok", True)
        if not ok:
            down.append(name)
    return sorted(down)


def check_health(url, timeout=3.0):
    """(status code or None, parsed JSON body or None, error text or None)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, None, str(reason)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        payload = None
    return status, payload, None


@dataclass
class HealthResult:
    ok: bool
    status: int | None = None
    payload: dict | None = None
    error: str | None = None
    dead: list = field(default_factory=list)
    waiting_for: str | None = None

    def describe(self):
        if self.ok:
            return "healthy"
        parts = []
        if self.dead:
            parts.append("exited: " + ", ".join(self.dead))
        if self.waiting_for:
            parts.append(f"web pages not answering ({self.error})")
        elif self.status is None:
            parts.append(f"gateway not answering ({self.error})")
        else:
            down = down_services(self.payload)
            if down:
                parts.append("services not answering: " + ", ".join(down))
            else:
                parts.append(f"/health answered {self.status}")
        return "; ".join(parts)


def wait_for_health(url, timeout=60.0, interval=0.5, supervisor=None, should_stop=None,
                    also=None, tick=None):
    """Poll `url` until it answers 200 (and each URL in `also` answers at all).
    Gives up early when a child of `supervisor` exits; `tick` (the launcher's
    restart step) is called on every round instead."""
    deadline = time.monotonic() + timeout
    last = HealthResult(False, error="not tried")
    while True:
        status, payload, error = check_health(url)
        last = HealthResult(status == 200, status, payload, error)
        for extra in (also or ()) if last.ok else ():
            extra_status, _, extra_error = check_health(extra)
            if extra_status is None:
                last = HealthResult(False, status, payload,
                                    f"{extra} not answering ({extra_error})")
                last.waiting_for = extra
                break
        if last.ok:
            return last
        if tick is not None:
            tick()
        if supervisor is not None:
            dead = supervisor.dead()
            if dead:
                last.dead = [f"{c.name} (exit {c.poll()})" for c in dead]
                return last
        if (should_stop and should_stop()) or time.monotonic() >= deadline:
            return last
        time.sleep(interval)


# --------------------------------------------------------------------------- main

def banner(env, password, source):
    port = http_port(env)
    lines = [
        "",
        "Leerlingbus is running. Open this address in your browser:",
        "",
        f"  >>> {web_url(env)} <<<",
        "",
        f"  gateway:   http://127.0.0.1:{port}/api/v1   (health: http://127.0.0.1:{port}/health)",
        f"  logs:      {data_dir(env) / 'logs'}",
        f"  helpdesk:  institution '{HELPDESK_INSTITUTION}', code '{HELPDESK_CODE}', "
        + (f"password '{password}'  (from {source})" if password
           else "password: see the bootstrap output or " + str(data_dir(env) / PASSWORD_FILE)),
        "  stop:      Ctrl-C",
        "",
    ]
    return "\n".join(lines)


class StopRequested(BaseException):
    """Raised from the signal handler while starting up (one-shots, health wait)."""


def install_signal_handlers(stop_requested, supervisor=None, phase=None):
    """SIGINT/SIGTERM/SIGHUP ask to stop. While `phase["starting"]` is true the
    handler raises StopRequested in the main thread, interrupting whatever blocks
    there (a migration, the bootstrap, the broker wait); a second signal makes
    stop_all kill at once."""
    def handler(signum, _frame):
        if stop_requested.is_set() and supervisor is not None:
            supervisor.hurry.set()
        stop_requested.set()
        if phase is not None and phase.get("starting"):
            phase["starting"] = False
            raise StopRequested(signum)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m deploy.run",
                                     description="Run every Leerlingbus service locally.")
    parser.add_argument("--port", type=int, help="HTTP port of the gateway (default "
                                                 "$LEERLINGBUS_HTTP_PORT or 8000)")
    parser.add_argument("--web-port", type=int, help="port of the web pages (default "
                                                     "$LEERLINGBUS_WEB_PORT or 8080)")
    parser.add_argument("--health-timeout", type=float, default=60.0)
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds between SIGTERM and SIGKILL when stopping")
    parser.add_argument("--crash-limit", type=int, default=5,
                        help="crashes of one child within --crash-window that stop the "
                             "launcher (a crash loop; default 5)")
    parser.add_argument("--crash-window", type=float, default=60.0)
    parser.add_argument("--no-bootstrap", action="store_true")
    parser.add_argument("--no-rabbitmq", action="store_true",
                        help="do not try to start a local RabbitMQ")
    parser.add_argument("--replicas", default="",
                        help="processes per component, e.g. students=3,uploads=2 (services "
                             "and the gateway; default one each)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    base = dict(os.environ)
    if args.port:
        base["LEERLINGBUS_HTTP_PORT"] = str(args.port)
    if args.web_port:
        base["LEERLINGBUS_WEB_PORT"] = str(args.web_port)
    env = build_env(base)
    data_dir(env).mkdir(parents=True, exist_ok=True)
    python = sys.executable
    try:
        replicas = parse_replicas(args.replicas)
    except LauncherError as exc:
        say(str(exc), sys.stderr)
        return 2
    slow = sqlite_replicas(env, replicas)
    if slow:
        say("note: " + ", ".join(slow) + " keep(s) a SQLite file: its replicas take turns "
            "writing it (one writer), so they add no throughput; scale on PostgreSQL")

    missing = missing_components()
    if missing:
        say("cannot start, these modules are missing: " + ", ".join(missing), sys.stderr)
        return 2
    try:
        lock = acquire_lock(data_dir(env))  # noqa: F841  (held until we exit)
    except LauncherError as exc:
        say(str(exc), sys.stderr)
        return 3

    stop_requested = StopFlag()
    phase = {"starting": True}
    supervisor = Supervisor(env=env, log_dir=data_dir(env) / "logs",
                            policy=RestartPolicy(crash_limit=args.crash_limit,
                                                 crash_window=args.crash_window))
    install_signal_handlers(stop_requested, supervisor, phase)
    try:
        if not args.no_rabbitmq:
            from deploy import rabbitmq
            rabbitmq.ensure(env["AMQP_URI"])
        run_migrations(python, env)
        output = None if args.no_bootstrap else run_bootstrap(python, env)
        for name, command in component_commands(python, replicas=replicas):
            supervisor.start(name, command, env=replica_env(env, name))
            say(f"started {name} (pid {supervisor.children[-1].pid})")
        url = health_url(env)
        say(f"waiting for {url}")
        result = wait_for_health(url, args.health_timeout, tick=supervisor.tick,
                                 also=[web_url(env) + WEB_PROBE.lstrip("/")])
        phase["starting"] = False
        if stop_requested.is_set():
            return supervise(supervisor, stop_requested, grace=args.grace)
        if not result.ok:
            say(f"not healthy after {args.health_timeout:.0f} s: {result.describe()}",
                sys.stderr)
            say(f"logs are in {data_dir(env) / 'logs'}", sys.stderr)
            supervisor.stop_all(grace=args.grace)
            return 1
        password, source = helpdesk_password(env, output or "")
        print(banner(env, password, source), flush=True)
        return supervise(supervisor, stop_requested, grace=args.grace)
    except StopRequested:
        say("stopping")
        supervisor.stop_all(grace=args.grace)
        say("stopped")
        return 0
    except (LauncherError, SystemExit) as exc:  # CrashLoop; rabbitmq.BrokerError is a SystemExit
        phase["starting"] = False
        say(str(exc), sys.stderr)
        supervisor.stop_all(grace=args.grace)
        return 1
    except BaseException:
        phase["starting"] = False
        supervisor.stop_all(grace=args.grace)
        raise


if __name__ == "__main__":
    sys.exit(main())
