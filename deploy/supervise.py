"""Child processes of the launcher: start, log, restart with back-off, stop.

Every child runs in its own process group (start_new_session) behind a small exec
trampoline that sets PR_SET_PDEATHSIG (Linux), so a launcher killed with SIGKILL
takes its children with it. A child that dies is restarted after an exponential
back-off; a child that crashes `crash_limit` times within `crash_window` seconds is a
crash loop, which stops the launcher. One launcher per data dir (fcntl lock).
"""
import errno
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK_FILE = "launcher.lock"


def say(message, stream=None):
    print(f"[run] {message}", file=stream or sys.stdout, flush=True)


class StopFlag:
    """A stop request set from a signal handler. A plain attribute, no lock:
    threading.Event.set() in a handler deadlocks when the signal arrives while
    the main thread is inside Event.wait() (the handler runs in that thread and
    waits for the condition lock it holds)."""

    def __init__(self):
        self._set = False

    def set(self):
        self._set = True

    def is_set(self):
        return self._set

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while not self._set:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.05))
        return self._set


class LauncherError(Exception):
    pass


class CrashLoop(LauncherError):
    pass


# --------------------------------------------------------------------------- one launcher

def acquire_lock(data_dir):
    """Hold an exclusive lock on <data dir>/launcher.lock for the life of this process.

    Returns the open file (keep a reference). Raises LauncherError naming the
    launcher that holds it. The descriptor is not inherited by children.
    """
    path = Path(data_dir) / LOCK_FILE
    fh = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        fh.seek(0)
        holder = fh.read().strip() or "?"
        fh.close()
        raise LauncherError(
            f"another launcher (pid {holder}) is already running on the data dir {data_dir}; "
            f"stop it first (Ctrl-C in its terminal, or kill {holder}), or use another "
            f"LEERLINGBUS_DATA_DIR") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


# --------------------------------------------------------------------------- children

# The child asks for SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG = 1, kept
# across exec), so even a launcher killed with SIGKILL leaves no orphans, whatever
# state the child is in (a SIGTERM'd nameko may hang in shutdown with the broker
# away). Done in an exec trampoline rather than preexec_fn, which is unsafe with
# threads. Restarts are spawned from the main thread: the death signal follows the
# thread that forked.
PARENT_WATCH = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def watched(argv, python=sys.executable):
    """argv wrapped so the child is killed when this process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return list(argv)
    return [str(python), "-c", PARENT_WATCH, str(os.getpid()), *argv]


# Kept in the log files, left off the console: eventlet's multi-line deprecation
# notice, printed once by every process that imports it, and blank lines.
CONSOLE_NOISE = re.compile(
    r"^\s*$|EventletDeprecationWarning|^Eventlet is deprecated|^we strongly recommend against"
    r"|^If you are already using Eventlet|^framework\.  For more detail"
    r"|eventlet\.readthedocs\.io/en/latest/asyncio/migration|^\s+(import|from) eventlet")


def console_worthy(line):
    return not CONSOLE_NOISE.search(line)


@dataclass
class Child:
    name: str
    argv: list
    process: subprocess.Popen
    log_path: Path | None = None
    threads: list = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    crashes: deque = field(default_factory=deque)
    restarts: int = 0
    backoff_level: int = 0
    restart_at: float | None = None
    env: dict | None = None  # its own environment; None: the supervisor's

    @property
    def pid(self):
        return self.process.pid

    def poll(self):
        return self.process.poll()


@dataclass
class RestartPolicy:
    backoff_start: float = 0.5
    backoff_max: float = 30.0
    crash_limit: int = 5
    crash_window: float = 60.0
    stable_after: float = 30.0  # a child that ran this long starts its back-off afresh

    def backoff(self, level):
        return min(self.backoff_max, self.backoff_start * (2 ** level))


def tail(path, lines=15):
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


class Supervisor:
    """Starts children in their own process groups, restarts and stops them."""

    def __init__(self, env=None, log_dir=None, console=True, cwd=ROOT, watch_parent=True,
                 policy=None):
        self.env = env
        self.log_dir = Path(log_dir) if log_dir else None
        self.console = console
        self.cwd = cwd
        self.watch_parent = watch_parent
        self.policy = policy or RestartPolicy()
        self.children: list[Child] = []
        self.hurry = StopFlag()  # a second stop request: do not wait the grace
        self._print_lock = threading.Lock()

    def _spawn(self, name, argv, env=None):
        log = None
        log_path = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            log = open(log_path, "a", encoding="utf-8", errors="replace")
            log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n")
            log.flush()
        process = subprocess.Popen(
            watched(argv) if self.watch_parent else argv, cwd=self.cwd,
            env=self.env if env is None else env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: Ctrl-C reaches us, not them
        )
        return process, log, log_path

    def _pump_thread(self, child, process, log):
        reader = threading.Thread(target=self._pump, args=(child.name, process, log),
                                  daemon=True, name=f"log-{child.name}")
        reader.start()
        child.threads = [t for t in child.threads if t.is_alive()] + [reader]

    def start(self, name, argv, env=None):
        process, log, log_path = self._spawn(name, argv, env)
        child = Child(name, list(argv), process, log_path, env=env)
        self._pump_thread(child, process, log)
        self.children.append(child)
        return child

    def restart(self, child):
        process, log, _ = self._spawn(child.name, child.argv, child.env)
        child.process = process
        child.started_at = time.monotonic()
        child.restart_at = None
        child.restarts += 1
        self._pump_thread(child, process, log)
        return child

    def _pump(self, name, process, log):
        prefix = f"{name:>9} | "
        try:
            for raw in iter(process.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if log is not None:
                    log.write(line + "\n")
                    log.flush()
                if self.console and console_worthy(line):
                    with self._print_lock:
                        print(prefix + line, flush=True)
        except (OSError, ValueError):
            pass
        finally:
            if log is not None:
                log.close()

    def running(self):
        return [c for c in self.children if c.poll() is None]

    def dead(self):
        return [c for c in self.children if c.poll() is not None]

    def child(self, name):
        return next(c for c in self.children if c.name == name)

    # -- restarts ----------------------------------------------------------
    def tick(self, now=None):
        """Notice dead children, restart those whose back-off is over.

        Raises CrashLoop when a child crashed too often too fast."""
        now = time.monotonic() if now is None else now
        policy = self.policy
        for child in self.children:
            code = child.poll()
            if code is None:
                continue
            if child.restart_at is None:
                ran = now - child.started_at
                if ran >= policy.stable_after:
                    child.backoff_level = 0
                child.crashes.append(now)
                while child.crashes and now - child.crashes[0] > policy.crash_window:
                    child.crashes.popleft()
                self._report_exit(child, code, ran)
                if len(child.crashes) >= policy.crash_limit:
                    raise CrashLoop(
                        f"{child.name} crashed {len(child.crashes)} times within "
                        f"{policy.crash_window:.0f} s (a crash loop); stopping everything. "
                        f"See {child.log_path or 'its output'} for why.")
                delay = policy.backoff(child.backoff_level)
                child.backoff_level += 1
                child.restart_at = now + delay
                say(f"restarting {child.name} in {delay:.1f} s (crash {len(child.crashes)} "
                    f"of at most {policy.crash_limit - 1} within {policy.crash_window:.0f} s)",
                    sys.stderr)
            elif now >= child.restart_at:
                self.restart(child)
                say(f"restarted {child.name} (pid {child.pid}, restart {child.restarts})",
                    sys.stderr)

    def _report_exit(self, child, code, ran):
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        say(f"{child.name} (pid {child.pid}) died with {how} after {ran:.1f} s", sys.stderr)
        for thread in child.threads:
            thread.join(timeout=1)  # the last lines reach the log first
        if child.log_path:
            for line in tail(child.log_path):
                print(f"{child.name:>9} ! {line}", file=sys.stderr, flush=True)

    # -- stopping ----------------------------------------------------------
    def _signal(self, child, sig):
        try:
            os.killpg(child.pid, sig)  # the child leads its group (start_new_session)
        except ProcessLookupError:
            pass
        except PermissionError:  # pragma: no cover
            try:
                child.process.send_signal(sig)
            except ProcessLookupError:
                pass

    def stop_all(self, grace=10.0, poll=0.1):
        """SIGTERM every child's group, SIGKILL what is left after `grace` seconds
        (at once after a second stop request). Returns {name: returncode}."""
        for child in self.children:
            child.restart_at = None
            if child.poll() is None:
                self._signal(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.running() and not self.hurry.is_set():
            time.sleep(poll)
        for child in self.children:
            if child.poll() is None:
                why = "a second stop request" if self.hurry.is_set() else (
                    f"did not stop within {grace:.0f} s")
                say(f"{child.name}: {why}; killing it")
                self._signal(child, signal.SIGKILL)  # the whole group
        for child in self.children:
            try:
                child.process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
            for thread in child.threads:
                thread.join(timeout=2)
        return {c.name: c.process.returncode for c in self.children}


def supervise(supervisor, stop_requested, poll=0.2, grace=10.0):
    """Restart dead children until a stop request or a crash loop, then stop
    everything. Returns the exit code (0 on request, 1 on a crash loop)."""
    try:
        while not stop_requested.is_set():
            supervisor.tick()
            stop_requested.wait(poll)
    except CrashLoop as exc:
        say(str(exc), sys.stderr)
        supervisor.stop_all(grace=grace)
        return 1
    say("stopping")
    supervisor.stop_all(grace=grace)
    say("stopped")
    return 0
