"""Request-scoped access to the container, the database session and the caller."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request
from sqlalchemy.orm import Session

from backend.bootstrap import Container
from backend.db.models.enums import Role
from backend.errors import Forbidden, InvalidInput, NotAuthenticated
from backend.security.tokens import Principal, read_access_token

F = TypeVar("F", bound=Callable[..., Any])


def container() -> Container:
    return current_app.extensions["wattpass"]  # type: ignore[no-any-return]


def db() -> Session:
    if "db" not in g:
        g.db = container().session_factory()
    return g.db  # type: ignore[no-any-return]


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()  # rolls back anything a failed request left uncommitted


def client_address() -> str:
    """The caller's address; X-Forwarded-For is honoured only behind configured proxies."""
    hops = container().settings.trusted_proxies
    if hops:
        forwarded = [
            p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",") if p.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def optional_principal() -> Principal | None:
    if "principal" in g:
        return g.principal  # type: ignore[no-any-return]
    header = request.headers.get("Authorization", "")
    principal = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise NotAuthenticated("Send the access token as 'Authorization: Bearer <token>'.")
        c = container()
        principal = read_access_token(token.strip(), c.settings.secret_key, c.clock())
    g.principal = principal
    return principal


def principal() -> Principal:
    p = optional_principal()
    if p is None:
        raise NotAuthenticated("Please log in to do this.")
    return p


ROLE_TEXT = {
    Role.DRIVER: "drivers",
    Role.OPERATOR_STAFF: "operator staff (own operator only)",
    Role.PLATFORM_ADMIN: "platform admins",
}


def allow(*roles: Role) -> Callable[[F], F]:
    """Gate a view to the given roles; the OpenAPI description states who may call it.

    The check also runs from a before-request hook (see `enforce_roles`), so an anonymous
    or wrong-role caller gets 401/403 before its body is even parsed.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _check(roles)
            return view(*args, **kwargs)

        who = ", ".join(ROLE_TEXT[r] for r in roles)
        doc = (view.__doc__ or "").rstrip()
        line = f"**Who may call:** {who}."
        wrapper.__doc__ = f"{doc}\n\n{line}" if doc else line
        apidoc = getattr(wrapper, "_apidoc", {})
        manual = apidoc.setdefault("manual_doc", {})
        manual.setdefault("security", [{"bearerAuth": []}])
        manual["x-allowed-roles"] = [r.value for r in roles]
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        wrapper._wattpass_roles = roles  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _check(roles: tuple[Role, ...]) -> None:
    p = principal()
    if p.role not in roles:
        raise Forbidden("Your account type may not do this.")


def enforce_roles() -> None:
    """before_request hook: find the roles the target view declared with @allow."""
    view = current_app.view_functions.get(request.endpoint or "")
    cls = getattr(view, "view_class", None)
    method = getattr(cls, request.method.lower(), None) if cls else view
    roles = getattr(method, "_wattpass_roles", None)
    if roles is not None:
        _check(roles)
    # Another operator's data does not exist for the caller: 404 before the body is read.
    operator_id = (request.view_args or {}).get("operator_id")
    if roles is not None and operator_id is not None:
        operator_scope(operator_id)


def operator_scope(operator_id: int) -> None:
    """Operator staff see only their own operator; platform admins see all."""
    p = principal()
    if p.role == Role.PLATFORM_ADMIN:
        return
    if p.role != Role.OPERATOR_STAFF or p.operator_id != operator_id:
        from backend.errors import NotFound

        raise NotFound("No such operator.")


def _nul_fields(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [where] if "\x00" in value else []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    found = []
    for key, item in items:
        name = f"{where}.{key}" if where else str(key)
        found += [name] if "\x00" in str(key) else _nul_fields(item, name)
    return found


def reject_nul_characters() -> None:
    """before_request hook: text with a NUL character (\\u0000) is refused up front.

    PostgreSQL cannot store or even compare it: it failed whichever query it reached (a
    500), from a profile field to a query parameter. No client has a use for it."""
    found = _nul_fields(request.view_args or {}, "")
    found += [k for k, vs in request.args.lists() if _nul_fields([k, *vs], "")]
    if request.is_json:
        found += _nul_fields(request.get_json(silent=True), "")
    if found:
        raise InvalidInput(
            "Text may not contain the NUL character (\\u0000): "
            + ", ".join(sorted(set(found)))
            + ".",
            errors={name: ["May not contain the NUL character."] for name in found},
        )
