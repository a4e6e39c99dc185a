"""What both OCPP versions' connections share: the RPC framing errors the `ocpp` library
leaves unanswered, the boot gate, and command execution with the gateway's errors.

The library logs and drops a frame it cannot parse; a charger then waits for an answer
that never comes. Here every malformed CALL gets its CALLERROR (message id "-1" when it
cannot be read, as OCPP-J 2.0.1 §4.2.3 says) and the connection stays up.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import Coroutine
from typing import Any

from ocpp.charge_point import ChargePoint as OcppChargePoint
from ocpp.charge_point import (
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.exceptions import FormatViolationError, InternalError, OCPPError, SecurityError
from ocpp.messages import Call, CallError, MessageType, unpack, validate_payload
from websockets.exceptions import ConnectionClosed

from backend.services.bridge_records import ChargerRef
from backend.services.charger_gateway import (
    ChargerOffline,
    ChargerTimeout,
    Command,
    CommandRejected,
    CommandResult,
)
from ocpp_bridge.core import BridgeCore
from ocpp_bridge.fastcheck import schema_check

log = logging.getLogger(__name__)

# How long a call may still complete after its socket closed (its answer already read).
CLOSE_GRACE_S = 0.5
# 1.6 spells two error codes its own way (OCPP-J 1.6 §4.2.3).
V16_CODES = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
    "RpcFrameworkError": "FormationViolation",
    "MessageTypeNotSupported": "FormationViolation",
}


class BridgeConnection(OcppChargePoint, abc.ABC):  # type: ignore[misc]
    """Base of V16Connection / V201Connection (each also inherits its version's
    ChargePoint, which supplies `_call`, `_call_result` and `_ocpp_version`)."""

    ocpp_version = ""

    def __init__(
        self, ref: ChargerRef, registration: str, websocket: Any, core: BridgeCore
    ) -> None:
        # Our own timeout governs commands (execute); the library's only backs it up.
        super().__init__(ref.identity, websocket, response_timeout=3600)
        self.ref = ref
        self.identity = ref.identity
        self.registration = registration
        self.core = core
        self.settings = core.settings
        self.closed = asyncio.Event()
        if not self.settings.validate_schemas:  # a throughput knob, off by default
            for handlers in self.route_map.values():
                handlers["_skip_schema_validation"] = True

    # --- receiving ----------------------------------------------------------------

    async def run(self) -> None:
        """Serve the charger's messages until its websocket closes."""
        # The charger going away is how every connection ends; not an error.
        try:
            with contextlib.suppress(ConnectionClosed):
                await self.start()
        finally:
            self.closed.set()  # commands still waiting for an answer fail now

    async def route_message(self, raw_msg: str | bytes) -> None:
        self.core.seen(self)
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            await self._reply_unparsable(raw_msg, error)
            return
        if msg.message_type_id != MessageType.Call:
            self._response_queue.put_nowait(msg)
            return
        if not isinstance(msg.payload, dict):
            cause = {"cause": "The payload must be a JSON object."}
            await self._reply_error(msg, FormatViolationError(details=cause))
            return
        try:
            if not await self._handle_fast(msg):
                await self._handle_call(msg)  # the library's way; its validator names errors
        except OCPPError as error:
            await self._reply_error(msg, error)

    async def _handle_fast(self, msg: Call) -> bool:
        """Handle a call whose payload passes the compiled schema check (fastcheck.py);
        False leaves it to the library. Same handlers, same answers, a fraction of the
        CPU: no generic jsonschema walk, no signature inspection per message."""
        handlers = self.route_map.get(msg.action, {})
        handler = handlers.get("_on_action")
        validate = not handlers.get("_skip_schema_validation", False)
        if handler is None or "_after_action" in handlers:
            return False
        if validate:
            check = schema_check(self._ocpp_version, msg.action)
            if check is None or not check(msg.payload):
                return False
        try:
            response = handler(**camel_to_snake_case(msg.payload))
            if inspect.isawaitable(response):
                response = await response
            payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
            result = msg.create_call_result(payload)
            if validate:
                answer_check = schema_check(self._ocpp_version, msg.action, response=True)
                if answer_check is None:
                    await validate_payload(result, self._ocpp_version)
                elif not answer_check(payload):
                    raise InternalError(details={"cause": "our answer failed its schema"})
        except OCPPError as error:
            await self._reply_error(msg, error)
            return True
        except Exception:
            log.exception("%s: handling %s failed", self.identity, msg.action)
            await self._reply_error(msg, InternalError())
            return True
        await self._send(result.to_json())
        return True

    async def _reply_unparsable(self, raw_msg: str | bytes, error: OCPPError) -> None:
        try:
            frame = json.loads(raw_msg)
        except (ValueError, TypeError):
            frame = None
        if isinstance(frame, list) and frame and frame[0] in (3, 4):
            # A malformed answer to one of our calls: answering an answer makes no sense.
            log.warning("%s: unparsable CALLRESULT/CALLERROR dropped", self.identity)
            return
        unique_id = frame[1] if isinstance(frame, list) and len(frame) > 1 else "-1"
        code = error.code
        if self.ocpp_version == "2.0.1":
            # 2.0.1 has codes of its own for a broken frame (OCPP-J 2.0.1 §4.3).
            unknown_type = isinstance(frame, list) and frame and frame[0] not in (2, 3, 4)
            code = "MessageTypeNotSupported" if unknown_type else "RpcFrameworkError"
        await self._send_error(str(unique_id)[:36], code, error.description, error.details)

    async def _reply_error(self, msg: Call, error: OCPPError) -> None:
        code = error.code
        cause = str((error.details or {}).get("cause", ""))
        if self.ocpp_version == "2.0.1" and code == "ProtocolError" and "required" in cause:
            # The library says ProtocolError for a missing field; 2.0.1 has a word for it.
            code = "OccurrenceConstraintViolation"
        await self._send_error(msg.unique_id, code, error.description, error.details)

    async def _send_error(self, unique_id: str, code: str, description: str, details: Any) -> None:
        if self.ocpp_version == "1.6":
            code = V16_CODES.get(code, code)
        # Details only ever carry a short cause: never echo the charger's frame back.
        cause = details.get("cause") if isinstance(details, dict) else None
        safe = {"cause": str(cause)[:255]} if cause else {}
        await self._send(CallError(unique_id, code, description, safe).to_json())

    def require_accepted(self) -> None:
        """Transactions wait for an accepted boot (a Pending charger is being
        commissioned; a Rejected one was refused by its operator)."""
        if self.registration != "Accepted":
            raise SecurityError(description=f"The charger's registration is {self.registration}.")

    def now_text(self) -> str:
        return self.core.now().isoformat().replace("+00:00", "Z")

    # --- commands -----------------------------------------------------------------

    async def execute(self, command: Command, timeout_s: float) -> CommandResult:
        """Send a charger-gateway command as this version's call; gateway errors only."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._unless_closed(self._execute(command))
        except TimeoutError:
            raise ChargerTimeout(
                self.identity, f"Charger {self.identity} did not answer within {timeout_s:g} s."
            ) from None
        except ConnectionClosed:
            raise ChargerOffline(self.identity, f"Charger {self.identity} disconnected.") from None
        except OCPPError as exc:
            raise CommandRejected(
                self.identity, f"Charger {self.identity} answered {exc.code}: {exc.description}"
            ) from exc

    async def _unless_closed(self, work: Coroutine[Any, Any, CommandResult]) -> CommandResult:
        """The library's call() waits for its answer even after the socket closed;
        a charger gone mid-command is offline, not slow."""
        task = asyncio.ensure_future(work)
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            await asyncio.wait({task, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                # A charger answers a Reset and then drops the socket: the answer was read
                # before the close, but the call may complete a loop turn after it. Give
                # it that moment, or an accepted reset would be reported as "offline".
                await asyncio.wait({task}, timeout=CLOSE_GRACE_S)
        finally:
            closed.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if task.cancelled():
            raise ConnectionClosed(None, None)
        return task.result()

    async def ask(self, payload: Any) -> Any:
        # suppress=False: a CALLERROR is an exception, never a silent None.
        return await self.call(payload, suppress=False)

    @abc.abstractmethod
    async def _execute(self, command: Command) -> CommandResult: ...

    async def close(self, reason: str) -> None:
        await self._connection.close(code=1000, reason=reason[:100])
