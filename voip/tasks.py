"""The registration watcher: keeps each phone line's registration status current from Asterisk.

A background loop (``register``, run by the serving process when AMI is configured). Each run is one
transaction, audited as the system actor ``registration-watcher``, and does one of two things:

- normally it takes the ContactStatus events that arrived since the last run, applies them to what it
  knows of each endpoint's contacts, and records the result of every endpoint they touched (the events
  carry no User-Agent: a new contact makes the next run a listing, which has it);
- right after the session came up (the first run, and after every reconnect: events sent while it was
  down are lost) and every ``registration_poll_s`` it lists all contacts (PJSIPShowContacts) instead,
  records every endpoint listed, and records as not registered every line that was registered but has
  no contact any more (expired while Asterisk was down, removed by a suspension).

Each run also carries out the requests to end live calls that suspensions and terminations left
(``call_teardowns``, written with the contract's change, so only committed ones are seen): one
CoreShowChannels listing, then a Hangup of each leg of those extensions, except legs in the emergency
contexts of deploy/asterisk/extensions.conf.in (a suspension never stops an emergency call). A request is
done when its legs are hung up; an AMI failure counts an attempt and is retried on the next run, up to
``TEARDOWN_MAX_ATTEMPTS``.

A line counts as registered while Asterisk holds a contact for it (any state but removed: an
unreachable phone stays registered until it re-registers or its registration expires); the status is
taken from its best contact (reachable first, lowest round trip). With the AMI down a run raises
``AmiUnavailable``, which the loop runner logs and counts (and /healthz reports) before the next run.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import bind_actor
from app.kit.actor import Actor
from app.kit.loops import LoopRunner
from app.kit.time import utcnow
from app.settings import Settings
from voip import repository, service
from voip.ami import (
    Ami,
    AmiError,
    AmiUnavailable,
    Contact,
    ContactState,
    ContactStatusChanged,
    ContactStatusSubscription,
)

log = logging.getLogger("opentelecom.voip.registrations")

LOOP_NAME = "registration-watcher"
# How often events are taken: the delay between a phone registering and its line page saying so.
EVENT_BATCH_S = 1.0
# How long a run waits for a lost session to come back before it reports the AMI unavailable.
RECONNECT_WAIT_S = 5.0
# The dialplan contexts an emergency call runs in (deploy/asterisk/extensions.conf.in).
EMERGENCY_CONTEXTS = frozenset({"emergency", "emergency-call"})
TEARDOWN_BATCH = 100
TEARDOWN_MAX_ATTEMPTS = 5
_PREFERENCE = {
    ContactState.REACHABLE: 0,
    ContactState.NON_QUALIFIED: 1,
    ContactState.UNKNOWN: 2,
    ContactState.UNREACHABLE: 3,
}


@dataclass(frozen=True)
class AmiConfig:
    """Where Asterisk's AMI listens and how we log in."""

    host: str
    port: int
    username: str
    secret: str


def ami_config(settings: Settings) -> AmiConfig | None:
    """The AMI settings, or those of the instance's server.json; None when neither is configured."""
    if settings.ami_host and settings.ami_username and settings.ami_secret:
        return AmiConfig(settings.ami_host, settings.ami_port, settings.ami_username, settings.ami_secret)
    path = settings.asterisk_server_file
    if path is None:
        return None
    try:
        server = json.loads(path.read_text())
        return AmiConfig(
            str(server["ami_listen"]), int(server["ami_port"]), str(server["ami_user"]), str(server["ami_secret"])
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AmiUnavailable(f"cannot read the AMI settings from {path}: {error}") from error


@dataclass(frozen=True)
class _Seen:
    """One contact of an endpoint, as the watcher last heard of it."""

    uri: str
    status: ContactState
    rtt_ms: float | None
    user_agent: str | None


@dataclass(frozen=True)
class _Status:
    """What is recorded for one extension."""

    registered: bool
    user_agent: str | None
    round_trip_ms: int | None
    contact_uri: str | None


def _status(contacts: dict[str, _Seen]) -> _Status:
    live = sorted(
        (c for c in contacts.values() if c.status is not ContactState.REMOVED),
        key=lambda c: (_PREFERENCE.get(c.status, 9), c.rtt_ms if c.rtt_ms is not None else math.inf, c.uri),
    )
    if not live:
        return _Status(False, None, None, None)
    best = live[0]
    # A round trip under a millisecond (loopback) is shown as 1 ms, not 0.
    rtt = math.ceil(best.rtt_ms) if best.rtt_ms is not None else None
    return _Status(True, best.user_agent, rtt, best.uri)


class RegistrationWatcher:
    """One AMI session and what it has heard, for the ``registration-watcher`` loop."""

    def __init__(
        self,
        config: Callable[[], AmiConfig | None],
        *,
        poll_s: float,
        reconnect_wait_s: float = RECONNECT_WAIT_S,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ):
        self._config = config
        self.poll_s = poll_s
        self.reconnect_wait_s = reconnect_wait_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._ami: Ami | None = None
        self._in_use: AmiConfig | None = None
        self._subscription: ContactStatusSubscription | None = None
        self._reconnects_seen: int | None = None
        self._polled_at = -math.inf
        # Set by an event about a phone whose User-Agent we do not know: only the listing has it.
        self._poll_soon = False
        # endpoint -> contact URI -> what we heard of it
        self._contacts: dict[str, dict[str, _Seen]] = {}
        # extension -> what was last recorded, so an unchanged poll writes nothing
        self._recorded: dict[str, _Status] = {}
        self.polls = 0
        self.events = 0
        self.calls_ended = 0

    @property
    def reconnects(self) -> int:
        """How often the current AMI session was restored after Asterisk went away."""
        return self._ami.reconnects if self._ami is not None else 0

    async def close(self) -> None:
        """End the AMI session (the loop runner calls this when it stops)."""
        ami, self._ami = self._ami, None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        if ami is not None:
            await ami.close()

    async def _session(self) -> Ami:
        if self._ami is None:
            config = self._config()
            if config is None:
                raise AmiUnavailable("AMI is not configured")
            ami = Ami(
                host=config.host,
                port=config.port,
                username=config.username,
                secret=config.secret,
                backoff_initial_s=self._backoff[0],
                backoff_max_s=self._backoff[1],
            )
            try:
                await ami.start()
            except AmiError:
                await ami.close()
                raise
            self._ami, self._in_use = ami, config
            self._subscription = ami.subscribe_contact_status()
            self._reconnects_seen = None
            return ami
        if not self._ami.connected:
            try:
                await self._ami.wait_connected(self.reconnect_wait_s)
            except AmiUnavailable:
                # Each start of a tools/asterisk instance has a new secret: log in with the current one.
                if self._config() != self._in_use:
                    log.info("AMI settings changed: opening a new session")
                    await self.close()
                raise
        return self._ami

    async def run_batch(self, session: AsyncSession) -> int:
        """One run of the loop (see the module docstring); returns how many extensions it recorded."""
        try:
            return await self._run(session)
        except BaseException:
            # Its transaction rolls back: what it recorded must not count as written.
            self._recorded.clear()
            raise

    async def _run(self, session: AsyncSession) -> int:
        ami = await self._session()
        recorded = await self._follow(session, ami)
        # Last, so that a run which fails while recording has not hung up calls it then rolls back as not done.
        self.calls_ended += await end_calls(session, ami)
        return recorded

    async def _follow(self, session: AsyncSession, ami: Ami) -> int:
        assert self._subscription is not None
        reconnected = self._reconnects_seen != ami.reconnects
        if reconnected or self._poll_soon or time.monotonic() - self._polled_at >= self.poll_s:
            return await self._poll(session, ami, reconnected=reconnected)
        touched: dict[str, datetime | None] = {}
        while True:
            try:
                change = await self._subscription.get(timeout_s=0)
            except TimeoutError:
                break
            self.events += 1
            endpoint = self._apply(change)
            if endpoint:
                touched[endpoint] = change.at
        for endpoint, at in touched.items():
            await self._record(session, endpoint, _status(self._contacts.get(endpoint, {})), at=at)
        return len(touched)

    def _apply(self, change: ContactStatusChanged) -> str:
        # Our AOR is named after the extension, so it stands in for an event without an endpoint.
        endpoint = change.endpoint or change.aor
        if not endpoint:
            log.warning("ContactStatus event without endpoint or AOR ignored: %r", change)
            return ""
        contacts = self._contacts.setdefault(endpoint, {})
        if change.status is ContactState.REMOVED:
            contacts.pop(change.uri, None)
            return endpoint
        before = contacts.get(change.uri)
        seen = _Seen(change.uri, change.status, change.rtt_ms, change.user_agent)
        if seen.user_agent is None and before is not None:
            # Qualify results do not repeat the phone's User-Agent.
            seen = replace(seen, user_agent=before.user_agent)
        if seen.user_agent is None:
            # Asterisk's ContactStatus events carry no User-Agent: the next run lists the contacts.
            self._poll_soon = True
        contacts[change.uri] = seen
        return endpoint

    async def _poll(self, session: AsyncSession, ami: Ami, *, reconnected: bool) -> int:
        # Events queued before the listing are older than it: the listing replaces them.
        assert self._subscription is not None
        while True:
            try:
                await self._subscription.get(timeout_s=0)
            except TimeoutError:
                break
        listed: list[Contact] = await ami.show_contacts()
        self._reconnects_seen = ami.reconnects
        self._polled_at = time.monotonic()
        self._poll_soon = False
        self.polls += 1
        contacts: dict[str, dict[str, _Seen]] = {}
        for contact in listed:
            endpoint = contact.endpoint or contact.aor
            contacts.setdefault(endpoint, {})[contact.uri] = _Seen(
                contact.uri, contact.status, contact.rtt_ms, contact.user_agent
            )
        self._contacts = contacts
        if reconnected:
            # What was recorded before the session (re)started may be out of date: write it all anew.
            self._recorded.clear()
        gone = await repository.registered_extensions(session) - contacts.keys()
        recorded = 0
        for endpoint in sorted(contacts.keys() | gone):
            status = _status(contacts.get(endpoint, {}))
            if await self._record(session, endpoint, status, at=None, force=endpoint in gone):
                recorded += 1
        log.debug("listed %d contacts of %d endpoints; %d no longer registered", len(listed), len(contacts), len(gone))
        return recorded

    async def _record(
        self, session: AsyncSession, extension: str, status: _Status, *, at: datetime | None, force: bool = True
    ) -> bool:
        if not force and self._recorded.get(extension) == status:
            return False
        await service.record_registration(
            session,
            extension=extension,
            registered=status.registered,
            user_agent=status.user_agent,
            round_trip_ms=status.round_trip_ms,
            contact_uri=status.contact_uri,
            at=at,
        )
        self._recorded[extension] = status
        return True


async def end_calls(session: AsyncSession, ami: Ami, *, limit: int = TEARDOWN_BATCH) -> int:
    """Carry out pending requests to end suspended or terminated lines' calls (see the module docstring);
    returns how many call legs were hung up."""
    pending = await repository.pending_teardowns(session, limit=limit)
    if not pending:
        return 0
    wanted = {teardown.extension for teardown in pending}
    ended: dict[str, int] = {}
    now = utcnow()
    try:
        for channel in await ami.show_channels():
            extension = channel.endpoint
            if extension not in wanted or channel.context in EMERGENCY_CONTEXTS:
                continue
            if await ami.hang_up(channel.name):
                ended[extension] = ended.get(extension, 0) + 1
                log.info(
                    "hung up %s (in %s, %s): its line is no longer active", channel.name, channel.context, channel.exten
                )
    except AmiError as error:
        for teardown in pending:
            teardown.attempts += 1
            teardown.last_error = str(error)[:500]
            if teardown.attempts >= TEARDOWN_MAX_ATTEMPTS:
                teardown.done_at = now
                log.error("gave up ending the calls of extension %s: %s", teardown.extension, error)
        log.warning("could not end the calls of %d lines (will retry): %s", len(pending), error)
        return sum(ended.values())
    for teardown in pending:
        teardown.attempts += 1
        teardown.done_at = now
        teardown.calls_ended = ended.get(teardown.extension, 0)
        # A second request for the same extension in this batch has nothing left to end.
        ended[teardown.extension] = 0
    return sum(t.calls_ended for t in pending)


def register(
    runner: LoopRunner,
    settings: Settings,
    *,
    reconnect_wait_s: float = RECONNECT_WAIT_S,
    backoff_initial_s: float = 0.5,
    backoff_max_s: float = 30.0,
) -> RegistrationWatcher | None:
    """Add the watcher to the loops when AMI is configured (None, and nothing added, otherwise)."""
    if not settings.ami_configured:
        log.info("no AMI settings: phone registration status is not followed")
        return None
    watcher = RegistrationWatcher(
        lambda: ami_config(settings),
        poll_s=settings.registration_poll_s,
        reconnect_wait_s=reconnect_wait_s,
        backoff_initial_s=backoff_initial_s,
        backoff_max_s=backoff_max_s,
    )

    async def run(session: AsyncSession) -> int:
        bind_actor(session, Actor.system(LOOP_NAME))
        return await watcher.run_batch(session)

    runner.register(LOOP_NAME, EVENT_BATCH_S, run)
    runner.on_stop(watcher.close)
    return watcher
