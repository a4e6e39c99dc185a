"""The `wattpass` command: migrate, demo, serve, run, create-admin.

`wattpass run` is the one-command platform of the README: it migrates the database,
loads the demo data and starts the supervised components — localstripe, the OCPP
bridge with its in-process charger gateway, the API, the background jobs and the demo's
simulated chargers — until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from backend.config import Settings, redact_url
from backend.jobs import background_jobs

log = logging.getLogger("wattpass")

ADMIN_PASSWORD_ENV = "WATTPASS_ADMIN_PASSWORD"  # noqa: S105  (a variable name)
CREDENTIALS_FILE = "demo-credentials.json"
LOCALSTRIPE_STATE = "localstripe-state.pickle"


class CommandError(Exception):
    """A failure the person at the terminal can fix; printed without a traceback."""


def _say(line: str = "") -> None:
    print(line, flush=True)


def _var_dir() -> Path:
    # Read at call time: WATTPASS_VAR_DIR is fixed when backend.config is imported.
    from backend import config

    return config.VAR_DIR


# --- migrate -------------------------------------------------------------------------


def _ensure_sqlite_dir(url: str) -> None:
    """SQLite creates the file but not its folder (var/ is not in git)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def migrate(settings: Settings) -> None:
    from backend.db.migrate import upgrade

    _ensure_sqlite_dir(settings.database_url)
    log.info("migrating %s to the latest schema", redact_url(settings.database_url))
    try:
        upgrade(settings.database_url)
    except SQLAlchemyError as exc:
        raise CommandError(
            f"Could not migrate {redact_url(settings.database_url)}: {type(exc).__name__}"
        ) from exc


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    migrate(settings)
    _say(f"Database {redact_url(settings.database_url)} is at the latest schema.")
    return 0


# --- demo ----------------------------------------------------------------------------


def write_private_json(path: Path, data: Any) -> None:
    """Write JSON readable by the owner only (0600), also when the file already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, default=str)
        fh.write("\n")


def demo_logins(node: Any, label: str = "") -> list[tuple[str, str, str]]:
    """(e-mail, password, who) for every login in the demo summary, in order.

    The summary's keys belong to backend.demo; a login is any mapping with a password
    and an e-mail address, described by where it sits and its short text fields.
    """
    found: list[tuple[str, str, str]] = []
    if isinstance(node, dict):
        emails = [str(v) for k, v in node.items() if k != "password" and "@" in str(v)]
        if "password" in node and emails:
            notes = [str(node[k]) for k in ("who", "role") if node.get(k)]
            found.append((emails[0], str(node["password"]), ", ".join([label, *notes])))
        for key, value in node.items():
            if isinstance(value, dict | list):
                found.extend(demo_logins(value, str(key) if not label else f"{label} / {key}"))
    elif isinstance(node, list):
        for item in node:
            name = item.get("name") if isinstance(item, dict) else None
            found.extend(demo_logins(item, str(name) if name else label))
    return found


def _counts(summary: dict[str, Any]) -> str:
    return ", ".join(f"{len(v)} {k}" for k, v in summary.items() if isinstance(v, list) and v)


def load_demo_data(settings: Settings) -> tuple[dict[str, Any], Path]:
    """Load the demo data (idempotent) and keep its credentials in a 0600 file."""
    from backend import demo  # another module's work; imported only when asked for
    from backend.bootstrap import bootstrap

    container = bootstrap(settings)
    try:
        summary = demo.load_demo(container.session_factory, container.clock(), settings.secret_key)
    finally:
        container.close()
    path = _var_dir() / CREDENTIALS_FILE
    write_private_json(path, summary)
    return summary, path


def _print_demo(summary: dict[str, Any], path: Path) -> None:
    # The one place demo credentials reach a console: they unlock only demo data on a
    # local database. They never go through `logging`. Codes, RFID tags and charger
    # passwords stay in the file.
    _say(f"Demo data loaded ({_counts(summary) or 'nothing listed'}). Demo logins:")
    logins = demo_logins(summary)
    width = max((len(email) for email, _, _ in logins), default=0)
    for email, password, who in logins:
        _say(f"  {email:<{width}}  {password}  {who}")
    _say(f"Everything else (company codes, RFID tags, charger passwords): {path}")
    _say("  (readable by you only)")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    migrate(settings)
    summary, path = load_demo_data(settings)
    _print_demo(summary, path)
    _say(
        f"Start the API with `wattpass serve`; it will listen on http://{settings.api_host}:"
        f"{settings.api_port}/"
    )
    return 0


# --- serve / run ---------------------------------------------------------------------


def api_component(settings: Settings, host: str, port: int) -> Any:
    from backend.app import create_app
    from backend.server import WsgiServer

    try:
        return WsgiServer("api", create_app(settings), host, port)
    except OSError as exc:
        raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def payment_components(
    settings: Settings, host: str, port: int, state_file: Path | None = None
) -> tuple[Settings, list[Any]]:
    """With no STRIPE_SECRET_KEY (and no STRIPE_API_BASE of one's own) payments go to a
    localstripe this command starts on loopback; its webhooks come back to the API,
    signed with the webhook secret. It keeps its state in `state_file` if given, else in
    memory. Returns the settings the API must use."""
    if not settings.payments_local or settings.stripe_api_base:
        return settings, []
    import dataclasses

    from backend.adapters.localstripe_server import LocalStripe, free_port

    api_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104
    localstripe = LocalStripe(
        settings.localstripe_port or free_port(),
        webhook_url=f"http://{api_host}:{port}/stripe/webhooks",
        webhook_secret=settings.stripe_webhook_secret,
        state_file=state_file,
    )
    return dataclasses.replace(settings, stripe_api_base=localstripe.url), [localstripe]


def supervise(components: Sequence[Any]) -> int:
    from backend.server import Supervisor

    return Supervisor(components, out=_say).run()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    settings, payments = payment_components(settings, args.host, args.port)
    return supervise([*payments, api_component(settings, args.host, args.port)])


def _localstripe_state(settings: Settings) -> Path:
    """Where `run` keeps localstripe's state: beside the database it lives as long as, so
    a returning demo driver's customer, cards and payments still exist at "Stripe".

    A state file without its database is harmless: a new database makes new customers
    (or finds a demo driver's old one again by its metadata, cards included), and what
    else the file holds is never asked for. Still, a new SQLite file starts a new
    state, so the two stay in step. A database without its state file (deleted, or var/
    from before this file existed) leaves the Stripe ids it remembers pointing nowhere;
    demo_cards gives the demo drivers new customers and cards."""
    path = _var_dir() / LOCALSTRIPE_STATE
    prefix = "sqlite:///"
    db = settings.database_url.removeprefix(prefix)
    if settings.database_url.startswith(prefix) and db != ":memory:" and not Path(db).exists():
        path.unlink(missing_ok=True)
    return path


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Everything in one process (architecture.md, embedded default)."""
    from backend.app import create_app
    from backend.bootstrap import bootstrap
    from backend.demo_cards import DemoCards
    from backend.server import ComponentError, PeriodicWorker, WsgiServer
    from ocpp_bridge.config import BridgeSettings
    from ocpp_bridge.embedded import DemoFleet, EmbeddedBridge, demo_chargers, demo_id_tags

    _say(f"Database: {redact_url(settings.database_url)}")
    state_file = _localstripe_state(settings)  # before migrate creates the SQLite file
    migrate(settings)
    summary, path = load_demo_data(settings)
    _print_demo(summary, path)
    settings, payments = payment_components(settings, args.host, args.port, state_file)
    container = bootstrap(settings)
    try:
        bridge = EmbeddedBridge(
            container, BridgeSettings.from_env(host=args.ocpp_host, port=args.ocpp_port)
        )
        try:
            api = WsgiServer("api", create_app(container=container), args.host, args.port)
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
            ) from exc
        # Right after localstripe (it must answer), before the simulated chargers badge in.
        cards = [DemoCards(settings, container)] if payments else []
        components: list[Any] = [*payments, *cards, bridge, api]
        components.append(PeriodicWorker("workers", background_jobs(container), args.jobs_every))
        chargers = demo_chargers(summary) if args.simulated_chargers else []
        if chargers:
            components.append(
                DemoFleet(
                    lambda: bridge.url, chargers, args.sim_speed, id_tags=demo_id_tags(summary)
                )
            )
        try:
            return supervise(components)
        except ComponentError as exc:
            raise CommandError(str(exc)) from exc
    finally:
        container.close()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """The background jobs alone (production shape: beside gunicorn and the bridge nodes,
    until Celery beat takes them over)."""
    from backend.bootstrap import bootstrap
    from backend.server import PeriodicWorker

    container = bootstrap(settings)
    try:
        return supervise([PeriodicWorker("workers", background_jobs(container), args.jobs_every)])
    finally:
        container.close()


# --- create-admin --------------------------------------------------------------------


def _admin_password() -> str:
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        raise CommandError(f"Set {ADMIN_PASSWORD_ENV} or run this in a terminal to be asked.")
    first = getpass.getpass("Password for the new platform admin: ")
    if getpass.getpass("Repeat it: ") != first:
        raise CommandError("The two passwords differ.")
    return first


def cmd_create_admin(args: argparse.Namespace, settings: Settings) -> int:
    from backend.bootstrap import bootstrap
    from backend.db.models.enums import Role
    from backend.services import accounts

    password = _admin_password()
    container = bootstrap(settings)
    try:
        with container.session_factory() as session:
            user = accounts.create_user(session, args.email, password, Role.PLATFORM_ADMIN)
            session.commit()
            _say(f"Platform admin {user.email} created (id {user.id}).")
    except SQLAlchemyError as exc:
        raise CommandError(
            f"Could not create the admin ({type(exc).__name__}); has `wattpass migrate` run?"
        ) from exc
    finally:
        container.close()
    return 0


# --- entry point ---------------------------------------------------------------------


def _add_listen_options(parser: argparse.ArgumentParser, settings: Settings) -> None:
    parser.add_argument("--host", default=settings.api_host, help="default: %(default)s")
    parser.add_argument("--port", type=int, default=settings.api_port, help="default: %(default)s")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    ocpp_port = int(os.environ.get("WATTPASS_OCPP_PORT") or 9000)
    parser.add_argument(
        "--ocpp-host",
        default=os.environ.get("WATTPASS_OCPP_HOST") or "127.0.0.1",
        help="where chargers connect (default: %(default)s)",
    )
    parser.add_argument(
        "--ocpp-port", type=int, default=ocpp_port, help="OCPP port (default: %(default)s)"
    )
    parser.add_argument(
        "--no-simulated-chargers",
        dest="simulated_chargers",
        action="store_false",
        help="do not connect the demo's simulated chargers",
    )
    parser.add_argument(
        "--sim-speed",
        type=float,
        default=60.0,
        help="simulated chargers' time runs this many times faster (default: %(default)s)",
    )
    parser.add_argument(
        "--jobs-every",
        type=float,
        default=5.0,
        help="seconds between background job rounds (default: %(default)s)",
    )


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wattpass", description="Wattpass EV-charging platform.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: list[tuple[str, str, Callable[[argparse.Namespace, Settings], int]]] = [
        ("migrate", "upgrade the database to the latest schema", cmd_migrate),
        ("demo", "load the demo operators, sites and drivers", cmd_demo),
        ("serve", "serve the API", cmd_serve),
        ("run", "migrate, load the demo data and run the platform", cmd_run),
        ("worker", "run the background jobs (push delivery, session follow-ups, …)", cmd_worker),
        ("create-admin", "create a platform admin account", cmd_create_admin),
    ]
    for name, help_text, func in commands:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name in ("serve", "run"):
            _add_listen_options(p, settings)
        if name == "run":
            _add_run_options(p)
        if name == "worker":
            p.add_argument("--jobs-every", type=float, default=5.0, help="seconds (%(default)s)")
        if name == "create-admin":
            p.add_argument("--email", required=True)
    return parser


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic narrates each step at INFO; one line from us is enough.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # The ocpp library logs every frame at INFO; the simulated chargers send many.
    logging.getLogger("ocpp").setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings.from_env()
    args = build_parser(settings).parse_args(argv)
    configure_logging(args.verbose)
    from backend.errors import DomainError

    try:
        return int(args.func(args, settings))
    except (CommandError, DomainError) as exc:
        print(f"wattpass {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the supervisor took over the signals
        print(f"wattpass {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
