"""Supervised components of the `wattpass` command and the API's WSGI server.

`wattpass run` starts a list of components in order and stops them in reverse on
Ctrl-C or SIGTERM: localstripe, the OCPP bridge (ocpp_bridge.embedded), the API, the
periodic workers and the simulated chargers.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any, Protocol

from waitress import wasyncore
from waitress.server import create_server

log = logging.getLogger("wattpass")
access_log = logging.getLogger("wattpass.access")

WsgiApp = Callable[..., Iterable[bytes]]


class ComponentError(RuntimeError):
    """A component could not start; the message says why, for a person."""


class Component(Protocol):
    """Something `run` starts, watches and stops: a server, a bridge, a simulator."""

    name: str

    def start(self) -> None:
        """Return once the component serves (or raise: nothing half-started remains)."""

    def stop(self) -> None:
        """Stop within a few seconds; safe to call twice."""

    def alive(self) -> bool:
        """False once the component has died on its own."""

    def banner(self) -> list[str]:
        """Lines telling a person where to reach it."""


class AccessLog:
    """One line per request: method, path, status, milliseconds.

    Only PATH_INFO is written: query strings, headers (Authorization) and bodies
    (passwords, company codes) never reach the log.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        status: list[str] = []

        def _start(code: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status.append(code.split(" ", 1)[0])
            return start_response(code, headers, *exc)

        try:
            return self.app(environ, _start)
        finally:
            access_log.info(
                "%s %s %s %.1fms",
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "-"),
                status[0] if status else "-",
                (time.perf_counter() - started) * 1000,
            )


class WsgiServer:
    """The API on waitress, in a thread that owns all its sockets.

    waitress's own `serve()` only stops on KeyboardInterrupt in the main thread; driving
    its loop ourselves lets the supervisor stop it from a signal and drain answers
    already being written before closing.
    """

    DRAIN_SECONDS = 5.0

    def __init__(self, name: str, app: WsgiApp, host: str, port: int, threads: int = 8) -> None:
        self.name = name
        self._map: dict[int, Any] = {}
        # Binding happens here, so a port already in use fails before anything starts.
        self._server = create_server(
            AccessLog(app), map=self._map, host=host, port=port, threads=threads, ident="wattpass"
        )
        self.host = host
        self.port = int(self._server.effective_port)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"{name}-loop", daemon=True)

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"http://{shown}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=0.5, map=self._map, use_poll=True, count=1)
            self._drain()
        except Exception:
            log.exception("%s stopped on an error", self.name)
        finally:
            self._server.task_dispatcher.shutdown(timeout=self.DRAIN_SECONDS)
            wasyncore.close_all(self._map)

    def _drain(self) -> None:
        # Stop accepting, keep the loop turning until in-flight answers have left.
        wasyncore.dispatcher.close(self._server)
        deadline = time.monotonic() + self.DRAIN_SECONDS
        while time.monotonic() < deadline and self._busy():
            wasyncore.loop(timeout=0.1, map=self._map, use_poll=True, count=1)

    def _busy(self) -> bool:
        channels = list(self._server.active_channels.values())
        return any(ch.requests or ch.total_outbufs_len for ch in channels)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._server.pull_trigger()  # wake the poll now rather than at its timeout
            self._thread.join(self.DRAIN_SECONDS + 5)
        else:
            wasyncore.close_all(self._map)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def banner(self) -> list[str]:
        return [
            f"API            {self.url}/",
            f"API docs       {self.url}/docs",
            f"OpenAPI        {self.url}/openapi.json",
        ]


class PeriodicWorker:
    """Jobs run every `interval_s` seconds in a thread of their own (the embedded
    stand-in for Celery beat): push delivery, reminders, session follow-ups. A job that
    fails is logged and tried again next round; it never stops the others."""

    def __init__(
        self,
        name: str,
        jobs: Sequence[tuple[str, Callable[[], object]]],
        interval_s: float = 5.0,
    ) -> None:
        self.name = name
        self.jobs = list(jobs)
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_once(self) -> None:
        for job_name, job in self.jobs:
            if self._stopping.is_set():
                return
            try:
                job()
            except Exception:
                log.exception("%s: %s failed; trying again next round", self.name, job_name)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self.run_once()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(self.interval_s + 30)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def banner(self) -> list[str]:
        names = ", ".join(name for name, _ in self.jobs)
        return [f"Workers        every {self.interval_s:g} s: {names}"]


class Supervisor:
    """Start components in order, wait for a signal or a death, stop them in reverse."""

    POLL_SECONDS = 0.5

    def __init__(self, components: Sequence[Component], out: Callable[[str], None] = print):
        self.components = list(components)
        self.out = out
        self._stop = threading.Event()
        self._reason = ""

    def request_stop(self, reason: str) -> None:
        self._reason = self._reason or reason
        self._stop.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop(signal.Signals(signum).name)

    def run(self) -> int:
        """Returns the process exit code: 0 after a requested stop, 1 if a component died."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        started: list[Component] = []
        failed = False
        try:
            for component in self.components:
                if self._stop.is_set():
                    break
                component.start()
                started.append(component)
                log.info("%s started", component.name)
            if not self._stop.is_set():
                for component in started:
                    for line in component.banner():
                        self.out(line)
                self.out("Press Ctrl-C to stop.")
            while not self._stop.wait(self.POLL_SECONDS):
                dead = [c.name for c in started if not c.alive()]
                if dead:
                    failed = True
                    self.request_stop(f"{', '.join(dead)} stopped unexpectedly")
            log.info("stopping (%s)", self._reason)
        finally:
            for component in reversed(started):
                try:
                    component.stop()
                except Exception:
                    failed = True
                    log.exception("%s did not stop cleanly", component.name)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if failed else 0
