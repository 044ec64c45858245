"""Websocket consumers: authenticate, join groups, forward events. No business logic:
every write is a call into `chat.services` / `inbox.services`."""

import asyncio
import json

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from inbox.errors import ServiceError
from inbox.models import Inbox
from inbox.realtime import (
    MESSAGE_NEW,
    REPLYING,
    agent_group,
    contact_group,
    inbox_group,
    ticket_group,
)
from inbox.selectors import inbox_ids_for_agent, message_list, ticket_get_for_agent

from . import protocol, services
from .presenters import visitor_message, visitor_payload
from .writer import writer


class Consumer(AsyncJsonWebsocketConsumer):
    """Channels (4.2+) first hops to the one thread that runs every consumer's database work
    in the process to close stale connections, before each handler: every frame and every
    live event to every socket then waits behind other sockets' writes. These consumers reach
    the database only through `database_sync_to_async`, which closes stale connections around
    each call itself, so the hop is skipped and a live event goes out without waiting."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def live_events(self, message):
        """Several live events for one group, sent together (`inbox.realtime`): each is
        handled as if it had come alone, in order."""
        for event in message["events"]:
            await self.live_event(event)


@database_sync_to_async
def _agent_inbox_groups(agent) -> list[str]:
    inbox_ids = inbox_ids_for_agent(agent)
    ids = (Inbox.objects if inbox_ids is None else inbox_ids).values_list("id", flat=True)
    return [inbox_group(inbox_id) for inbox_id in ids]


@database_sync_to_async
def _agent_ticket(agent, ticket_id):
    return ticket_get_for_agent(agent=agent, ticket_id=ticket_id)


@database_sync_to_async
def _agent_read(agent, ticket_id, seq):
    return services.agent_read(agent=agent, ticket_id=ticket_id, seq=seq)


class AgentConsumer(Consumer):
    """Live events for the agent inbox (session cookie auth): ticket and message events of
    the agent's inboxes, @mention notifications for the agent, and for the tickets they
    open, typing and who else is viewing or replying (the collision warning).

    Client frames: `{"type": "view", "ticket_id", "state": "start"|"stop"}`,
    `{"type": "replying", "ticket_id", "state"}`, `{"type": "typing", "ticket_id", "state"}`,
    `{"type": "read", "ticket_id", "seq"}`."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.agent = user
        self.viewing: set[int] = set()
        self.replying: set[int] = set()
        self.joined_groups = [*await _agent_inbox_groups(user), agent_group(user.pk)]
        for group in self.joined_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for ticket_id in list(getattr(self, "viewing", ())):
            await self._view(ticket_id, "stop")
        for ticket_id in list(getattr(self, "replying", ())):
            await self._replying(ticket_id, "stop")
        for group in getattr(self, "joined_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, frame, **kwargs):
        try:
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind not in ("view", "typing", "read", REPLYING):
                raise protocol.BadFrame("unknown frame")
            parsed = (protocol.read_parse(frame) if kind == "read"
                      else protocol.typing_parse(frame))
            ticket = await _agent_ticket(self.agent, parsed["ticket_id"])
        except protocol.BadFrame:
            await self.send_json({"type": "error", "code": "bad_frame", "message": "Bad frame."})
            return
        except ServiceError as error:
            await self.send_json({"type": "error", "code": error.code, "message": error.message})
            return
        if kind == "view":
            await self._view(ticket.pk, parsed["state"])
        elif kind == REPLYING:
            await self._replying(ticket.pk, parsed["state"])
        elif kind == "typing":
            event = {"type": "live.event", "event": "typing", "payload": {
                "ticket_id": ticket.pk, "state": parsed["state"], "by": "agent",
                "agent": {"id": self.agent.pk, "name": self.agent.name}}}
            await self.channel_layer.group_send(ticket_group(ticket.pk), event)
            await self.channel_layer.group_send(contact_group(ticket.contact_id), event)
        else:
            await _agent_read(self.agent, ticket.pk, parsed["seq"])

    async def _view(self, ticket_id: int, state: str):
        group = ticket_group(ticket_id)
        if state == "start":
            self.viewing.add(ticket_id)
            await self.channel_layer.group_add(group, self.channel_name)
        else:
            self.viewing.discard(ticket_id)
            if ticket_id in self.replying:
                await self._replying(ticket_id, "stop")
        await self.channel_layer.group_send(group, {"type": "live.event", "event": "viewing",
                                                    "payload": self._presence(ticket_id, state)})
        if state == "stop":
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _replying(self, ticket_id: int, state: str):
        if state == "start":
            self.replying.add(ticket_id)
        else:
            self.replying.discard(ticket_id)
        await self.channel_layer.group_send(ticket_group(ticket_id), {
            "type": "live.event", "event": REPLYING, "payload": self._presence(ticket_id, state)})

    def _presence(self, ticket_id: int, state: str) -> dict:
        return {"ticket_id": ticket_id, "state": state,
                "agent": {"id": self.agent.pk, "name": self.agent.name},
                "replying": ticket_id in self.replying,
                "channel": self.channel_name}

    async def live_event(self, message):
        event, payload = message["event"], message["payload"]
        if event in ("viewing", REPLYING):
            if payload["channel"] == self.channel_name:
                return
            # A newcomer announces itself; those already viewing answer so it sees them.
            if event == "viewing" and payload["state"] == "start" and \
                    payload.get("reply_to") is None and payload["ticket_id"] in self.viewing:
                await self.channel_layer.send(payload["channel"], {
                    "type": "live.event", "event": "viewing",
                    "payload": {**self._presence(payload["ticket_id"], "start"),
                                "reply_to": payload["channel"]}})
            payload = {k: v for k, v in payload.items() if k not in ("channel", "reply_to")}
        elif event == "typing" and payload.get("agent", {}).get("id") == self.agent.pk:
            return
        await self.send_json({"type": event, "data": payload})


@database_sync_to_async
def _hello(token: str, origin: str | None):
    session = services.widget_session_get(token=token)
    if session is not None:
        services.origin_check(inbox=session.inbox, origin=origin)
    return session


@database_sync_to_async
def _summaries(session):
    return services.visitor_ticket_summaries(session=session)


@database_sync_to_async
def _visible(session, ticket_id) -> bool:
    return services.visitor_tickets(session=session).filter(pk=ticket_id).exists()


@database_sync_to_async
def _sync(session, ticket_id, after_seq):
    ticket = services.visitor_ticket_get(session=session, ticket_id=ticket_id)
    messages = [visitor_message(m) for m in
                message_list(ticket=ticket, after_seq=after_seq, include_notes=False)]
    return messages, ticket.last_seq


@database_sync_to_async
def _ticket_check(session, ticket_id):
    services.visitor_ticket_get(session=session, ticket_id=ticket_id)


@database_sync_to_async
def _read(session, ticket_id, seq):
    return services.visitor_read(session=session, ticket_id=ticket_id, seq=seq)


class WidgetConsumer(Consumer):
    """`/ws/widget/` (SPEC §4). The database is the log: acks go out after commit, and a
    client that missed live frames asks for `sync` by seq."""

    async def connect(self):
        self.session = None
        self.bucket = protocol.TokenBucket(
            rate=settings.WIDGET_FRAMES_PER_SECOND, capacity=settings.WIDGET_FRAME_BURST
        )
        await self.accept()
        self.hello_timer = asyncio.get_running_loop().call_later(
            protocol.HELLO_TIMEOUT_S, lambda: asyncio.ensure_future(self._hello_timeout())
        )

    async def _hello_timeout(self):
        if self.session is None:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code):
        self.hello_timer.cancel()
        if self.session is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if not self.bucket.take():
            await self.send_json({"type": "error", "code": "rate_limited",
                                  "message": "Too many frames."})
            await self.close(code=protocol.CLOSE_RATE_LIMITED)
            return
        try:
            frame = json.loads(text_data or "")
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise protocol.BadFrame("a frame is a JSON object with a type")
            await self.dispatch_frame(frame)
        except (ValueError, protocol.BadFrame):
            await self.close(code=protocol.CLOSE_BAD_FRAME)
        except protocol.FrameError as error:
            await self._error(error.code, error.message, error.client_id)

    async def dispatch_frame(self, frame: dict):
        kind = frame["type"]
        if self.session is None:
            if kind != "hello":
                await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
                return
            await self.on_hello(frame)
            return
        handler = {
            "message.send": self.on_message_send, "sync": self.on_sync,
            "typing": self.on_typing, "read": self.on_read,
        }.get(kind)
        if handler is None:
            raise protocol.BadFrame(f"unknown frame type {kind}")
        await handler(frame)

    async def on_hello(self, frame):
        origin = dict(self.scope.get("headers", [])).get(b"origin", b"").decode() or None
        try:
            session = await _hello(str(frame.get("token") or ""), origin)
        except services.Forbidden:
            await self.close(code=protocol.CLOSE_FORBIDDEN)
            return
        if session is None:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        self.session = session
        self.hello_timer.cancel()
        # Join before listing, so a conversation created in between is not missed.
        self.group = contact_group(session.contact.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        tickets = await _summaries(session)
        self.visible = {ticket["id"]: True for ticket in tickets}
        await self.send_json({"type": "welcome", "visitor_id": session.visitor_id,
                              "tickets": tickets})

    async def on_message_send(self, frame):
        parsed = protocol.message_send_parse(frame)
        client_id = str(parsed["client_id"])
        try:
            message = await writer().send(services.VisitorSend(session=self.session, **parsed))
        except ServiceError as error:
            raise protocol.FrameError(error.code, error.message, client_id) from None
        # The visitor's own message proves the conversation is theirs: its live echo, and
        # everything after, needs no look-up (a first message has just opened it).
        self.visible[message["ticket_id"]] = True
        await self.send_json({"type": "message.ack", "client_id": client_id, "message": message})

    async def on_sync(self, frame):
        parsed = protocol.sync_parse(frame)
        try:
            messages, last_seq = await _sync(self.session, **parsed)
        except ServiceError as error:
            raise protocol.FrameError(error.code, error.message) from None
        await self.send_json({"type": "sync.result", "ticket_id": parsed["ticket_id"],
                              "messages": messages, "last_seq": last_seq})

    async def on_typing(self, frame):
        parsed = protocol.typing_parse(frame)
        try:
            await _ticket_check(self.session, parsed["ticket_id"])
        except ServiceError as error:
            raise protocol.FrameError(error.code, error.message) from None
        await self.channel_layer.group_send(ticket_group(parsed["ticket_id"]), {
            "type": "live.event", "event": "typing",
            "payload": {**parsed, "by": "contact"},
        })

    async def on_read(self, frame):
        parsed = protocol.read_parse(frame)
        try:
            await _read(self.session, **parsed)
        except ServiceError as error:
            raise protocol.FrameError(error.code, error.message) from None

    async def live_event(self, event):
        """Events for the contact's group: new public messages, agents typing and reading."""
        kind, payload = event["event"], event["payload"]
        if not await self._may_see(payload.get("ticket_id")):
            return
        if kind == MESSAGE_NEW:
            await self.send_json({"type": "message.new", "message": visitor_payload(payload)})
        elif kind == "typing" and payload.get("by") == "agent":
            await self.send_json({"type": "typing", **payload})
        elif kind == "read" and payload.get("by") == "agent":
            await self.send_json({"type": "read", **payload})

    async def _may_see(self, ticket_id) -> bool:
        """The contact's group also carries their email tickets: a visitor sees only the
        conversations the widget lists (checked once per ticket, then cached)."""
        if ticket_id not in self.visible:
            self.visible[ticket_id] = await _visible(self.session, ticket_id)
        return self.visible[ticket_id]

    async def _error(self, code, message, client_id=None):
        frame = {"type": "error", "code": code, "message": message}
        if client_id:
            frame["client_id"] = client_id
        await self.send_json(frame)
