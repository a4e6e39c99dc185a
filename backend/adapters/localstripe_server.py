"""localstripe (a fake, stateful Stripe from PyPI) run the safe way, plus its supervisor.

Run as its own process, ``python -m backend.adapters.localstripe_server --port N``, so it
can be watched and killed like any other component. Unlike localstripe's own CLI this
listens on loopback only and never touches its pickle file in the shared temporary
directory (stack-notes: "Stripe and localstripe"). By default its state lives and dies
with the process (tests, `wattpass serve`); with ``--state-file PATH`` (what `wattpass
run` passes, beside its SQLite file) it is loaded from PATH at start and written back
after changes, so the Stripe ids the database remembers still exist on the next run.
Port 0 picks a free port; the first line on stdout names the one bound.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pickle
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("wattpass.localstripe")

READY_PREFIX = "localstripe listening on "
HOST = "127.0.0.1"


# --- the child process ---------------------------------------------------------------


class StateFile:
    """localstripe's store kept in a private file, written at most every DEBOUNCE_S.

    localstripe pickles its whole store after every change; doing that on each request
    would slow a busy demo, so a change only marks the store dirty and a timer (plus the
    shutdown) writes it. Each write is a temporary file in the same folder, then
    `os.replace`: a crash mid-write leaves the previous state, never half a pickle.
    """

    DEBOUNCE_S = 0.5

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dirty = False

    @staticmethod
    def check_folder(path: Path) -> None:
        """Refuse a world-writable folder (/tmp): another user could plant the pickle we
        load (unpickling runs code) or race our writes."""
        folder = path.parent.resolve()
        if folder.exists() and folder.stat().st_mode & stat.S_IWOTH:
            raise ValueError(f"the state file must be in a private folder, not {folder}")

    def load(self, store: dict[str, Any]) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return  # the first run: start empty
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            # Only a file we wrote ourselves is unpickled (we write it 0600).
            if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise ValueError(f"{self.path} is not a private file of this user")
            try:
                data = pickle.load(fh)  # noqa: S301 - our own 0600 file in a private folder
            except Exception as exc:  # a localstripe upgrade or a damaged file: start empty
                print(f"localstripe: state file unreadable ({type(exc).__name__}); starting "
                      "empty", file=sys.stderr, flush=True)  # fmt: skip
                return
        if isinstance(data, dict):
            store.clear()
            dict.update(store, data)  # dict's own: no "changed" mark for the loaded state

    def flush(self, store: dict[str, Any]) -> None:
        if not self.dirty:
            return
        self.dirty = False
        # A plain dict: unpickling localstripe's Store would call its __setitem__.
        data = pickle.dumps(dict(store), protocol=pickle.HIGHEST_PROTOCOL)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self.dirty = True  # try again on the next tick
            raise


def _keep_state(app: Any, store: dict[str, Any], state: StateFile | None) -> Callable[[], None]:
    """Write the store back every DEBOUNCE_S while changed, and on a clean stop.
    Returns the flush, for the ways out that skip aiohttp's cleanup."""
    import asyncio

    def flush() -> None:
        if state is not None:
            try:
                state.flush(store)
            except OSError as exc:
                print(f"localstripe: state not saved: {exc}", file=sys.stderr, flush=True)

    tasks: list[asyncio.Future[None]] = []

    async def loop() -> None:
        while True:
            await asyncio.sleep(StateFile.DEBOUNCE_S)
            flush()

    async def start(_app: Any) -> None:
        tasks.append(asyncio.ensure_future(loop()))

    async def cleanup(_app: Any) -> None:  # SIGTERM/SIGINT end run_app through here
        for task in tasks:
            task.cancel()
        flush()

    if state is not None:
        app.on_startup.append(start)
        app.on_cleanup.append(cleanup)
    return flush


def _serve(host: str, port: int, parent_pid: int | None, state_file: Path | None) -> None:
    import asyncio

    from aiohttp import web
    from localstripe import resources, server

    state = StateFile(state_file) if state_file is not None else None
    # Never localstripe's pickle in /tmp: two runs (or two test workers) would share and
    # corrupt it. Its "dump" becomes "changed" for our own file, if we keep one.
    resources.Store.try_load_from_disk = lambda self: None
    if state is None:
        resources.Store.dump_to_disk = lambda self: None
    else:
        resources.Store.dump_to_disk = lambda self: setattr(state, "dirty", True)
        state.load(resources.store)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]

    async def _watch_parent(_app: web.Application) -> None:
        # Orphaned (the parent was killed without stopping us): save, then leave too.
        async def loop() -> None:
            while True:
                await asyncio.sleep(1)
                if parent_pid is not None and os.getppid() != parent_pid:
                    flush()
                    os._exit(0)

        _app["wattpass_watchdog"] = asyncio.ensure_future(loop())

    async def _announce(_app: web.Application) -> None:
        print(f"{READY_PREFIX}http://{host}:{bound}", flush=True)

    flush = _keep_state(server.app, resources.store, state)
    server.app.on_startup.append(_watch_parent)
    server.app.on_startup.append(_announce)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        web.run_app(server.app, sock=sock, print=None, access_log=None, handle_signals=True)
    finally:
        flush()  # whatever the cleanup did not write (a no-op if clean)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="localstripe on loopback")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument(
        "--state-file", type=Path, default=None, help="keep the state here (default: memory)"
    )
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        parser.error("localstripe is a test double: bind it to loopback only")
    if args.state_file is not None:
        try:
            StateFile.check_folder(args.state_file)
        except ValueError as exc:
            parser.error(str(exc))
    _serve(args.host, args.port, args.parent_pid, args.state_file)
    return 0


# --- the supervisor side -------------------------------------------------------------


def free_port() -> int:
    """A loopback port free right now, so the address is known before the start."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class LocalStripeError(RuntimeError):
    """localstripe did not come up (or could not be configured)."""


class LocalStripe:
    """A supervised localstripe process (a `backend.server.Component`).

    `start()` returns once it answers HTTP; `url` is then its base address. Optionally
    registers a webhook endpoint so events are delivered (signed) to the platform, and
    keeps its state in `state_file` across restarts (else in memory only).
    """

    START_TIMEOUT = 30.0

    def __init__(
        self,
        port: int = 0,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        name: str = "localstripe",
        state_file: Path | str | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.state_file = Path(state_file) if state_file is not None else None
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self._process: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "backend.adapters.localstripe_server",
            "--port",
            str(self.port),
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.state_file is not None:
            cmd += ["--state-file", str(self.state_file)]
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Its own session: a terminal's Ctrl-C reaches the supervisor, which stops it.
            start_new_session=True,
        )
        line = self._first_line()
        self.port = int(line.rsplit(":", 1)[1])
        threading.Thread(target=self._drain, name=f"{self.name}-out", daemon=True).start()
        self._wait_http()
        if self.webhook_url and self.webhook_secret:
            self.register_webhook("wattpass", self.webhook_url, self.webhook_secret)

    def _first_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        result: list[str] = []
        reader = threading.Thread(
            target=lambda: result.append(self._process.stdout.readline()),
            daemon=True,
        )
        reader.start()
        reader.join(self.START_TIMEOUT)
        line = result[0].strip() if result else ""
        if not line.startswith(READY_PREFIX):
            err = self._stop_and_read_stderr()
            raise LocalStripeError(f"localstripe did not start: {line or err or 'timeout'}")
        return line

    def _drain(self) -> None:
        process = self._process
        if process is None or process.stderr is None:
            return
        for line in process.stderr:
            if len(self._stderr) < 200:
                self._stderr.append(line.rstrip())
            log.debug("localstripe: %s", line.rstrip())

    def _stop_and_read_stderr(self) -> str:
        process = self._process
        if process is None:
            return ""
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        try:
            _, err = process.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError):
            err = ""
        return (err or "").strip().splitlines()[-1] if (err or "").strip() else ""

    def _wait_http(self) -> None:
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/js.stripe.com/v3/", timeout=2):  # noqa: S310
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise LocalStripeError(f"localstripe did not answer on {self.url}")

    def _post(self, path: str, data: dict[str, str] | None = None, method: str = "POST") -> None:
        body = urllib.parse.urlencode(data or {}).encode() if data is not None else None
        req = urllib.request.Request(self.url + path, data=body, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback only
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise LocalStripeError(f"localstripe {method} {path} failed: {exc}") from exc

    def register_webhook(self, webhook_id: str, url: str, secret: str) -> None:
        """Have localstripe deliver every event to `url`, signed with `secret`."""
        self._post(f"/_config/webhooks/{webhook_id}", {"url": url, "secret": secret})

    def wipe(self) -> None:
        """Forget every customer, card and payment (webhook registrations stay)."""
        self._post("/_config/data", method="DELETE")

    def stop(self) -> None:
        # SIGTERM is a clean stop: localstripe writes its state file before leaving.
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def banner(self) -> list[str]:
        lines = [f"localstripe    {self.url}  (test payments; no STRIPE_SECRET_KEY set)"]
        if self.state_file is not None:
            lines.append(f"               its state is kept in {self.state_file}")
        return lines


if __name__ == "__main__":
    sys.exit(main())
