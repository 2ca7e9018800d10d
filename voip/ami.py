"""Our AMI client: a small interface over panoramisk for what openTelecom asks of Asterisk.

``Ami`` logs in to the Asterisk Manager Interface, keeps the session up (reconnect with capped, jittered
exponential backoff, and a new login, whenever Asterisk goes away), bounds every action by a timeout and
turns answers into our own types: AMI header strings stop here. Failures are ``AmiError``\\s with a code
(``ami_unavailable``, ``ami_timeout``, ``ami_action_failed``, ``ami_login_refused``).

panoramisk is used for the wire protocol (framing, ActionIDs, collecting event-list responses); its
``Manager`` reconnects on a fixed delay, logs in fire-and-forget and re-sends queued actions after a
reconnect, so ``_Manager`` below hands connecting and logging in to ``Ami`` and fails what was in
flight instead of re-sending it.

Realtime and "picking up" an endpoint: sorcery.conf maps endpoints, auths and AORs to realtime with no
memory cache, so every lookup of one (a REGISTER, an INVITE, PJSIPShowEndpoint) is a SELECT on our
tables and a committed row is in use at once, without a ``pjsip reload``. The one thing res_pjsip does
not re-read is its qualify state (which AORs exist, which endpoints they feed): it is built at boot and
on reload, and by sorcery observers that rows written straight into the database never trigger. Without
it an AOR provisioned after boot gets no OPTIONS pings, no ContactStatus events and no device state.
``pick_up_endpoint`` therefore runs ``pjsip reload qualify endpoint <name>``, which synchronises only
that endpoint's AORs (not a PJSIP reload), and then checks the endpoint with PJSIPShowEndpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from app.kit.errors import DomainError

log = logging.getLogger("opentelecom.voip.ami")

DEFAULT_ACTION_TIMEOUT_S = 5.0


class AmiError(DomainError):
    """Asterisk could not be asked, or did not answer as it should."""

    status = 502
    code = "ami_error"
    title = "Asterisk did not answer as expected"


class AmiUnavailable(AmiError):
    """No logged-in AMI session right now (Asterisk down, restarting, or the client closed)."""

    status = 503
    code = "ami_unavailable"
    title = "Asterisk is not reachable"


class AmiTimeout(AmiError):
    """Asterisk did not finish answering an action within its timeout."""

    status = 504
    code = "ami_timeout"
    title = "Asterisk did not answer in time"


class AmiActionFailed(AmiError):
    """Asterisk answered ``Response: Error`` to an action."""

    code = "ami_action_failed"


class AmiLoginRefused(AmiError):
    """Asterisk refused our AMI user or secret."""

    code = "ami_login_refused"
    title = "Asterisk refused the AMI login"


class ContactState(enum.StrEnum):
    """What Asterisk knows about a registered contact (its qualify status)."""

    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"
    # Registered, on an AOR that sends no OPTIONS pings (or not pinged yet).
    NON_QUALIFIED = "non_qualified"
    UNKNOWN = "unknown"
    # The registration ended (expired or unregistered).
    REMOVED = "removed"


_CONTACT_STATES = {
    "Reachable": ContactState.REACHABLE,
    "Unreachable": ContactState.UNREACHABLE,
    "NonQualified": ContactState.NON_QUALIFIED,
    # Older Asterisk versions' label for the same state.
    "Created": ContactState.NON_QUALIFIED,
    "Unknown": ContactState.UNKNOWN,
    "Removed": ContactState.REMOVED,
}


@dataclass(frozen=True)
class Contact:
    """A phone's registration as Asterisk holds it."""

    endpoint: str
    aor: str
    uri: str
    status: ContactState
    # Round trip of the last OPTIONS ping; None unless the contact is reachable.
    rtt_ms: float | None
    user_agent: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class EndpointDetails:
    """A PJSIP endpoint as Asterisk sees it now (PJSIPShowEndpoint)."""

    name: str
    context: str
    transport: str | None
    aors: tuple[str, ...]
    auths: tuple[str, ...]
    codecs: tuple[str, ...]
    # Asterisk's device state ("Unavailable", "Not in use", "In use", ...).
    device_state: str
    active_channels: int
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class Channel:
    """A live call leg as Asterisk holds it (a CoreShowChannel event)."""

    name: str  # e.g. "PJSIP/4711-0000002a": technology, endpoint and a sequence
    context: str  # where in the dialplan the leg is now
    exten: str
    state: str  # "Up", "Ring", "Ringing", ...
    caller_number: str | None
    connected_number: str | None
    uniqueid: str
    linkedid: str
    duration_s: int | None

    @property
    def endpoint(self) -> str | None:
        """The PJSIP endpoint the leg belongs to (None for other technologies)."""
        technology, _, rest = self.name.partition("/")
        if technology != "PJSIP" or not rest:
            return None
        return rest.rpartition("-")[0] or rest


@dataclass(frozen=True)
class ContactStatusChanged:
    """Asterisk reported a contact's state changing (a ContactStatus event)."""

    endpoint: str
    aor: str
    uri: str
    status: ContactState
    rtt_ms: float | None
    user_agent: str | None
    at: datetime | None


def _header(message: Message, name: str) -> str:
    value = message.get(name, "")
    # A header sent more than once (a CLI command's Output lines) comes as a list.
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value).strip()


def _optional(message: Message, name: str) -> str | None:
    return _header(message, name) or None


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _epoch(value: str) -> datetime | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def _state(value: str) -> ContactState:
    state = _CONTACT_STATES.get(value)
    if state is None:
        log.warning("unknown AMI contact status %r, taken as unknown", value)
        return ContactState.UNKNOWN
    return state


def _rtt_ms(status: ContactState, value: str) -> float | None:
    # Asterisk reports 0 or N/A when it has not measured anything.
    usec = _int(value)
    if status is not ContactState.REACHABLE or usec is None or usec <= 0:
        return None
    return usec / 1000


def _contact(message: Message, *, endpoint: str | None = None) -> Contact:
    """A contact from a ContactList event (PJSIPShowContacts) or a ContactStatusDetail event."""
    detail = message.get("Event") == "ContactStatusDetail"
    status = _state(_header(message, "Status"))
    return Contact(
        endpoint=_header(message, "EndpointName" if detail else "Endpoint") or (endpoint or ""),
        aor=_header(message, "AOR") if detail else _header(message, "ObjectName").split(";@", 1)[0],
        uri=_header(message, "URI" if detail else "Uri"),
        status=status,
        rtt_ms=_rtt_ms(status, _header(message, "RoundtripUsec")),
        user_agent=_optional(message, "UserAgent"),
        expires_at=_epoch(_header(message, "RegExpire" if detail else "ExpirationTime")),
    )


def _endpoint(events: list[Message]) -> EndpointDetails:
    [detail] = [m for m in events if m.get("Event") == "EndpointDetail"]
    name = _header(detail, "ObjectName")
    return EndpointDetails(
        name=name,
        context=_header(detail, "Context"),
        transport=_optional(detail, "Transport"),
        aors=_names(_header(detail, "Aors")),
        auths=_names(_header(detail, "Auth")),
        # "(ulaw|alaw)"
        codecs=tuple(c for c in _header(detail, "Allow").strip("()").split("|") if c),
        device_state=_header(detail, "DeviceState"),
        active_channels=_int(_header(detail, "ActiveChannels")) or 0,
        contacts=tuple(_contact(m, endpoint=name) for m in events if m.get("Event") == "ContactStatusDetail"),
    )


def _duration_s(value: str) -> int | None:
    # "00:01:05" (hours may exceed 24)
    parts = value.split(":")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    hours, minutes, seconds = (int(part) for part in parts)
    return hours * 3600 + minutes * 60 + seconds


def _channel(message: Message) -> Channel:
    return Channel(
        name=_header(message, "Channel"),
        context=_header(message, "Context"),
        exten=_header(message, "Exten"),
        state=_header(message, "ChannelStateDesc"),
        caller_number=_optional(message, "CallerIDNum"),
        connected_number=_optional(message, "ConnectedLineNum"),
        uniqueid=_header(message, "Uniqueid"),
        linkedid=_header(message, "Linkedid"),
        duration_s=_duration_s(_header(message, "Duration")),
    )


def _contact_status_changed(message: Message) -> ContactStatusChanged:
    status = _state(_header(message, "ContactStatus"))
    return ContactStatusChanged(
        endpoint=_header(message, "EndpointName"),
        aor=_header(message, "AOR"),
        uri=_header(message, "URI"),
        status=status,
        rtt_ms=_rtt_ms(status, _header(message, "RoundtripUsec")),
        user_agent=_optional(message, "UserAgent"),
        at=_epoch(_header(message, "Timestamp")),
    )


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol, wired to its manager from the first byte on."""

    def __init__(self, manager: _Manager):
        super().__init__()
        self._manager = manager

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # What panoramisk's Manager.connection_made sets, done here so no message finds it unset.
        self.factory = self._manager
        self.log = self._manager.log
        self.encoding = self._manager.config["encoding"]


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, with connecting, logging in and reconnecting left to ``Ami``."""

    def __init__(self, *, host: str, port: int, on_lost: Callable[[object], None]):
        super().__init__(host=host, port=port, loop=asyncio.get_running_loop(), log=log)
        # Its own FullyBooted handler re-sends actions queued over a reconnect: we fail those instead.
        self.callbacks.clear()
        self.patterns.clear()
        self._on_lost = on_lost

    async def open(self, timeout_s: float) -> None:
        host, port = self.config["host"], self.config["port"]
        async with asyncio.timeout(timeout_s):
            _, protocol = await self.loop.create_connection(lambda: _Protocol(self), host, port)
        self.protocol = protocol
        self._connected = True

    def connection_lost(self, exc: object) -> None:
        """Called by the protocol on a closed connection or Asterisk's Shutdown event."""
        self._connected = False
        self.awaiting_actions.clear()
        self._on_lost(exc)


class ContactStatusSubscription:
    """ContactStatus events as ``ContactStatusChanged``, in arrival order; iterate, or ``get`` with a
    timeout. Iteration ends only by cancelling it. Holds up to ``maxsize`` unread events; when full the
    oldest is dropped (and logged, and counted in ``dropped``)."""

    def __init__(self, owner: Ami, maxsize: int):
        self._owner = owner
        self._queue: asyncio.Queue[ContactStatusChanged] = asyncio.Queue(maxsize)
        self.dropped = 0

    def _put(self, change: ContactStatusChanged) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            log.warning("ContactStatus subscriber is behind: dropped an event (%d so far)", self.dropped)
        self._queue.put_nowait(change)

    async def get(self, timeout_s: float | None = None) -> ContactStatusChanged:
        """The next change; TimeoutError if none arrives within ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[ContactStatusChanged]:
        return self

    async def __anext__(self) -> ContactStatusChanged:
        return await self._queue.get()

    def close(self) -> None:
        self._owner._subscriptions.discard(self)


class Ami:
    """One AMI session to one Asterisk, kept up until ``close``.

    ``start`` connects and logs in once and raises if that fails; from then on the session is restored
    by itself whenever Asterisk goes away: reconnect attempts wait ``backoff_initial_s`` doubling up to
    ``backoff_max_s``, each scaled by a random factor in [0.5, 1] so clients do not reconnect in step.
    While it is down, actions raise ``AmiUnavailable`` at once; actions in flight when the connection
    drops raise it too (they are not re-sent: the caller decides). A Ping every ``ping_interval_s``
    notices a session that stopped answering and replaces it.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        action_timeout_s: float = DEFAULT_ACTION_TIMEOUT_S,
        connect_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        ping_interval_s: float = 20.0,
        events: str = "system",
    ):
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self.action_timeout_s = action_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.ping_interval_s = ping_interval_s
        # Event classes the session receives; ContactStatus and FullyBooted are "system".
        self._events = events
        self._manager: _Manager | None = None
        self._logged_in = False
        self._closing = False
        self._lost = asyncio.Event()
        self._booted = asyncio.Event()
        self._up = asyncio.Event()
        self._pending: set[asyncio.Future[Any]] = set()
        self._subscriptions: set[ContactStatusSubscription] = set()
        self._supervisor: asyncio.Task[None] | None = None
        # How often the session was restored after a loss (for health reports and tests).
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        """Whether a logged-in session is up right now."""
        return self._logged_in and self._manager is not None and bool(self._manager._connected)

    async def start(self) -> None:
        """Connect and log in; raise ``AmiLoginRefused`` or ``AmiUnavailable`` if that fails."""
        if self._supervisor is not None:
            raise RuntimeError("Ami.start() was already called")
        try:
            await self._connect()
        except AmiError:
            self._drop_connection()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name=f"ami-{self.host}:{self.port}")

    async def wait_connected(self, timeout_s: float) -> None:
        """Return once a session is up; ``AmiUnavailable`` if none is within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._up.wait()
        except TimeoutError:
            raise AmiUnavailable(f"no AMI session to {self.host}:{self.port} within {timeout_s} s") from None

    async def close(self) -> None:
        """Log off and end the session; no reconnect afterwards."""
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self.connected:
            with contextlib.suppress(AmiError):
                await self._action({"Action": "Logoff"}, timeout_s=1.0)
        self._drop_connection()
        for subscription in list(self._subscriptions):
            subscription.close()

    # --- what openTelecom asks -----------------------------------------------------------------------

    async def ping(self) -> None:
        """Ask Asterisk for a Pong: proves the session answers."""
        await self._action({"Action": "Ping"})

    async def show_endpoint(self, name: str) -> EndpointDetails | None:
        """The endpoint ``name`` as Asterisk sees it (a realtime lookup), or None if it knows none."""
        try:
            events = await self._event_list({"Action": "PJSIPShowEndpoint", "Endpoint": name})
        except AmiActionFailed as error:
            if error.extra.get("ami_message", "").startswith("Unable to retrieve endpoint"):
                return None
            raise
        return _endpoint(events)

    async def show_contacts(self) -> list[Contact]:
        """Every contact phones have registered, with its state and round-trip time."""
        try:
            events = await self._event_list({"Action": "PJSIPShowContacts"})
        except AmiActionFailed as error:
            # Asterisk answers an empty listing with an error.
            if error.extra.get("ami_message") == "No Contacts found":
                return []
            raise
        return [_contact(m) for m in events if m.get("Event") == "ContactList"]

    async def pick_up_endpoint(self, name: str) -> EndpointDetails:
        """Make Asterisk use a newly provisioned or changed endpoint fully, without a PJSIP reload.

        Its rows need nothing (realtime without a cache: the next lookup reads them); this
        synchronises res_pjsip's qualify state for the endpoint's AORs, so that their contacts are
        pinged per ``qualify_frequency`` and raise ContactStatus events, then returns the endpoint as
        PJSIPShowEndpoint shows it. ``AmiActionFailed`` if Asterisk cannot find the endpoint.
        """
        await self.command(f"pjsip reload qualify endpoint {name}")
        details = await self.show_endpoint(name)
        if details is None:
            raise AmiActionFailed(f"Asterisk does not see endpoint {name}", code="ami_endpoint_unknown")
        return details

    async def show_channels(self) -> list[Channel]:
        """Every live call leg (CoreShowChannels)."""
        events = await self._event_list({"Action": "CoreShowChannels"})
        return [_channel(m) for m in events if m.get("Event") == "CoreShowChannel"]

    async def hang_up(self, channel: str, *, cause: int = 16) -> bool:
        """End one call leg (the bridged leg ends with it); ``cause`` is a Q.850 cause code (16: normal
        clearing). False if the leg had ended already."""
        try:
            await self._action({"Action": "Hangup", "Channel": channel, "Cause": str(cause)})
        except AmiActionFailed as error:
            if error.extra.get("ami_message") == "No such channel":
                return False
            raise
        return True

    async def command(self, command: str) -> list[str]:
        """Run an Asterisk CLI command; return its output lines (``AmiActionFailed`` if it fails)."""
        response = await self._action({"Action": "Command", "Command": command})
        assert isinstance(response, Message)
        return _header(response, "Output").splitlines()

    def subscribe_contact_status(self, *, maxsize: int = 1000) -> ContactStatusSubscription:
        """Receive ContactStatus events from now on, across reconnects, until ``close``d.

        Events sent while no session was up are lost: a consumer reconciles with ``show_contacts``
        after ``wait_connected``.
        """
        subscription = ContactStatusSubscription(self, maxsize)
        self._subscriptions.add(subscription)
        return subscription

    # --- the session -----------------------------------------------------------------------------------

    async def _connect(self) -> None:
        """Open a connection, log in and wait until Asterisk has fully booted."""
        self._drop_connection()
        self._lost = asyncio.Event()
        self._booted = asyncio.Event()
        manager = _Manager(host=self.host, port=self.port, on_lost=self._connection_lost)
        manager.register_event("FullyBooted", lambda _manager, _event: self._booted.set())
        manager.register_event("ContactStatus", self._on_contact_status)
        self._manager = manager
        try:
            await manager.open(self.connect_timeout_s)
        except (OSError, TimeoutError) as error:
            raise AmiUnavailable(f"cannot connect to AMI at {self.host}:{self.port}: {error}") from error
        login = {"Action": "Login", "Username": self.username, "Secret": self._secret, "Events": self._events}
        try:
            await self._action(login, timeout_s=self.connect_timeout_s, logged_in=False)
        except AmiActionFailed as error:
            raise AmiLoginRefused(f"AMI login as {self.username} refused: {error.detail}") from error
        # Asterisk sends FullyBooted to each new session once it has loaded every module.
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await self._booted.wait()
        except TimeoutError:
            raise AmiUnavailable(f"Asterisk at {self.host}:{self.port} did not finish booting") from None
        if self._lost.is_set():
            raise AmiUnavailable(f"AMI at {self.host}:{self.port} closed the connection while logging in")
        self._logged_in = True
        self._up.set()
        log.info("AMI session to %s:%d logged in as %s", self.host, self.port, self.username)

    def _connection_lost(self, reason: object) -> None:
        if self._logged_in and not self._closing:
            log.warning("AMI session to %s:%d lost: %s", self.host, self.port, reason or "connection closed")
        self._logged_in = False
        self._up.clear()
        self._lost.set()
        self._fail_pending("the AMI connection was lost")

    def _fail_pending(self, reason: str) -> None:
        for future in list(self._pending):
            if not future.done():
                future.set_exception(AmiUnavailable(reason))
        self._pending.clear()

    def _drop_connection(self) -> None:
        """Close the current connection (if any) without reporting it as lost."""
        manager, self._manager = self._manager, None
        self._logged_in = False
        self._up.clear()
        if manager is not None:
            manager._on_lost = lambda _reason: None
            manager.close()
        self._fail_pending("the AMI connection was closed")

    def _backoff_s(self, attempt: int) -> float:
        delay = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** min(attempt, 30))
        return delay * random.uniform(0.5, 1.0)

    async def _supervise(self) -> None:
        """Keep the session up: ping it while up, reconnect with backoff once it is lost."""
        while not self._closing:
            await self._watch()
            attempt = 0
            while not self._closing:
                delay = self._backoff_s(attempt)
                log.info("reconnecting to AMI at %s:%d in %.2f s", self.host, self.port, delay)
                await asyncio.sleep(delay)
                try:
                    await self._connect()
                except AmiError as error:
                    attempt += 1
                    log.warning("AMI reconnect attempt %d failed (%s): %s", attempt, error.code, error.detail)
                    continue
                self.reconnects += 1
                break

    async def _watch(self) -> None:
        """Return once the session is lost; replace a session that no longer answers a Ping."""
        while not self._lost.is_set():
            try:
                async with asyncio.timeout(self.ping_interval_s):
                    await self._lost.wait()
                return
            except TimeoutError:
                pass
            try:
                await self.ping()
            except AmiError as error:
                log.warning("AMI session to %s:%d does not answer (%s): reconnecting", self.host, self.port, error.code)
                self._drop_connection()
                self._lost.set()

    def _on_contact_status(self, _manager: Manager, message: Message) -> None:
        try:
            change = _contact_status_changed(message)
        except ValueError:
            log.exception("unreadable ContactStatus event %r", message)
            return
        for subscription in list(self._subscriptions):
            subscription._put(change)

    # --- actions -----------------------------------------------------------------------------------------

    async def _action(
        self, headers: dict[str, str], *, timeout_s: float | None = None, logged_in: bool = True
    ) -> Message | list[Message]:
        """Send one action and wait for its whole answer (a list for event-list actions)."""
        manager = self._manager
        if manager is None or not manager._connected or (logged_in and not self._logged_in):
            raise AmiUnavailable(f"no AMI session to {self.host}:{self.port}")
        timeout_s = self.action_timeout_s if timeout_s is None else timeout_s
        action = Action(headers)
        future: asyncio.Future[Any] = manager.send_action(action)
        self._pending.add(future)
        try:
            async with asyncio.timeout(timeout_s):
                answer = await future
        except TimeoutError:
            # Forget it: a late answer is then dropped rather than kept for ever.
            manager.protocol.responses.pop(action.id, None)
            raise AmiTimeout(f"{headers['Action']} got no complete answer within {timeout_s} s") from None
        finally:
            self._pending.discard(future)
        first = answer[0] if isinstance(answer, list) else answer
        if _header(first, "Response") not in ("Success", "Follows", "Goodbye"):
            message = _header(first, "Message")
            # A failed CLI command says why in its output, not in Message.
            reason = _header(first, "Output").replace("\n", "; ") if headers["Action"] == "Command" else message
            raise AmiActionFailed(f"{headers['Action']} failed: {reason}", ami_message=message)
        return answer  # type: ignore[no-any-return]

    async def _event_list(self, headers: dict[str, str]) -> list[Message]:
        """The events an event-list action answered with (the final ...Complete included)."""
        answer = await self._action(headers)
        # An action that has nothing to list may answer with the bare response.
        return answer[1:] if isinstance(answer, list) else []
