"""Background processes with a pid file, a log file and a readiness check.

``ManagedProcess`` is the one building block of the local stack: Kafka and PostgreSQL run
through it, and so can ``uvicorn ...`` or ``faust -A ... worker``. A process outlives the
command that started it (it gets its own session), so ``livetranslate-stack up`` can exit
and ``down`` (another process) can find it again through the pid file. The pid file holds
the pid *and* the process's start time, so a pid reused by an unrelated process after a
crash or reboot is recognised as stale instead of being signalled.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], bool]


class ProcessStartError(RuntimeError):
    """A managed process exited during start-up or never became ready."""


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """What ``status`` reports for one component."""

    name: str
    running: bool
    pid: int | None
    port: int | None
    log_files: tuple[Path, ...]
    url: str | None = None

    def describe(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        parts = [f"{self.name:<10} {state}"]
        if self.port is not None:
            parts.append(f"port {self.port}")
        if self.url:
            parts.append(self.url)
        logs = ", ".join(str(p) for p in self.log_files)
        return "  ".join(parts) + (f"\n{'':<10} logs: {logs}" if logs else "")


# --------------------------------------------------------------------------- helpers


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the usual small race applies)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports: held open together while chosen, so that the kernel
    cannot hand out one twice (two free_port() calls can return the same port)."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tcp_ready(host: str, port: int) -> ReadinessCheck:
    """Readiness check: the port accepts connections."""
    return lambda: port_open(host, port)


def http_ready(url: str, timeout: float = 1.0) -> ReadinessCheck:
    """Readiness check: GET ``url`` answers with a 2xx status (e.g. a service's /health)."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                return 200 <= int(response.status) < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False

    return check


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) from /proc, or None if the pid does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], fields[19]


def _pid_alive(pid: int, start_time: str | None) -> bool:
    stat = _proc_stat(pid)
    if stat is None:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no procfs (macOS): fall back to signal 0
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    state, started = stat
    if state in {"Z", "X"}:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)  # reap our own zombie child
        return False
    return start_time is None or started == start_time


# --------------------------------------------------------------------------- the process


@dataclass
class ManagedProcess:
    """A long-running command started in the background, found again through its pid file.

    ``env`` is added to the current environment. ``ready`` is polled after start until it
    returns True. ``user`` runs the command as another system user (only when we are root).
    ``stop_signal`` is sent first; SIGKILL to the whole process group follows after
    ``stop_timeout`` seconds.
    """

    name: str
    command: Sequence[str]
    pid_file: Path
    log_file: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready: ReadinessCheck | None = None
    port: int | None = None
    url: str | None = None
    user: str | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 30.0
    extra_log_files: Sequence[Path] = ()
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    # ------------------------------------------------------------------ state

    def _read_pid_file(self) -> tuple[int, str | None] | None:
        try:
            parts = self.pid_file.read_text().split()
            return int(parts[0]), (parts[1] if len(parts) > 1 else None)
        except (OSError, ValueError, IndexError):
            return None

    @property
    def pid(self) -> int | None:
        """The pid of the running process, or None (a stale pid file is removed)."""
        if self._popen is not None and self._popen.poll() is None:
            return self._popen.pid
        recorded = self._read_pid_file()
        if recorded is None:
            return None
        pid, start_time = recorded
        if self._popen is not None and self._popen.pid == pid:
            alive = False  # poll() above said it has exited
        else:
            alive = _pid_alive(pid, start_time)
        if not alive:
            log.debug("%s: removing stale pid file %s (pid %d)", self.name, self.pid_file, pid)
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid is not None

    @property
    def log_files(self) -> tuple[Path, ...]:
        return (self.log_file, *self.extra_log_files)

    def status(self) -> ProcessStatus:
        pid = self.pid
        return ProcessStatus(
            name=self.name,
            running=pid is not None,
            pid=pid,
            port=self.port,
            log_files=self.log_files,
            url=self.url,
        )

    # ------------------------------------------------------------------ start / stop

    def _identity(self) -> tuple[int, int] | None:
        """(uid, gid) to switch to, if ``user`` is set and we are root."""
        if self.user is None or os.geteuid() != 0:
            return None
        import pwd

        entry = pwd.getpwnam(self.user)
        return entry.pw_uid, entry.pw_gid

    def start(self, *, wait: bool = True, timeout: float = 120.0) -> bool:
        """Start the process unless it already runs; True if this call started it."""
        if self.is_running():
            log.info("%s already running (pid %s)", self.name, self.pid)
            return False
        if self.port is not None and port_open("127.0.0.1", self.port):
            raise ProcessStartError(
                f"{self.name}: port {self.port} is already in use by another process; "
                "stop it or choose another port"
            )
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        identity = self._identity()
        with self.log_file.open("ab") as out:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"\n=== {stamp} starting: {' '.join(self.command)}\n".encode())
            out.flush()
            self._popen = subprocess.Popen(  # noqa: S603 - the command is ours
                list(self.command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
                user=identity[0] if identity else None,
                group=identity[1] if identity else None,
                extra_groups=[] if identity else None,
            )
        stat = _proc_stat(self._popen.pid)
        start_time = f" {stat[1]}" if stat else ""
        self.pid_file.write_text(f"{self._popen.pid}{start_time}\n")
        log.info("%s started (pid %d), log %s", self.name, self._popen.pid, self.log_file)
        if wait:
            try:
                self.wait_ready(timeout)
            except BaseException:
                self.stop()
                raise
        return True

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Poll the readiness check; fail fast (with the log's tail) if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                raise ProcessStartError(
                    f"{self.name} exited during start-up; last lines of {self.log_file}:\n"
                    + self._tail_logs()
                )
            if self.ready is None or self.ready():
                return
            if time.monotonic() > deadline:
                raise ProcessStartError(
                    f"{self.name} not ready after {timeout:.0f} s; last lines of its logs:\n"
                    + self._tail_logs()
                )
            time.sleep(0.2)

    def _tail_logs(self) -> str:
        return "\n".join(f"--- {p}\n{tail(p)}" for p in self.log_files if p.exists())

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the process (stop_signal, then SIGKILL); True if it was running."""
        pid = self.pid
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        timeout = self.stop_timeout if timeout is None else timeout
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, self.stop_signal)
        if not self._wait_exit(pid, timeout):
            log.warning("%s (pid %d) ignored %s; killing it", self.name, pid, self.stop_signal.name)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 10.0)
        self.pid_file.unlink(missing_ok=True)
        self._popen = None
        log.info("%s stopped", self.name)
        return True

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen is not None and self._popen.pid == pid:
                try:
                    self._popen.wait(timeout=0.1)
                    return True
                except subprocess.TimeoutExpired:
                    continue
            if self.pid is None:
                return True
            time.sleep(0.1)
        return False


class ProcessBackedComponent:
    """A stack component whose life is one ManagedProcess: stop, status and logs are its."""

    process: ManagedProcess

    def stop(self, timeout: float = 30.0) -> bool:
        return self.process.stop(timeout)

    def status(self) -> ProcessStatus:
        return self.process.status()

    @property
    def log_files(self) -> tuple[Path, ...]:
        return self.process.log_files
