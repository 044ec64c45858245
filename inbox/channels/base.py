"""The shape every messaging adapter fills (Telegram, WhatsApp, Messenger/Instagram,
Twilio SMS): verify the provider's request, parse it into plain data, send replies.

Adapters never write the ORM: the generic webhook view hands their plain data to
`message_ingest` and `message_status_update`, and Celery fetches media later.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.http import HttpRequest, HttpResponse

from ..models import Inbox, Message
from ..services import InboundMessage


class WebhookRejected(Exception):
    """The request is not from the provider: 401 (no credentials) or 403 (bad ones)."""

    def __init__(self, message: str, status: int = 403, code: str = "bad_signature"):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


class PayloadInvalid(Exception):
    """A verified request whose body cannot be understood: 400."""


@dataclass(frozen=True)
class MediaRef:
    """A file the provider holds; fetched by a task after the message is stored."""

    ref: str  # provider media id or URL
    content_type: str = ""
    name: str = ""


@dataclass(frozen=True)
class Inbound:
    """One inbound message, plus media still to download."""

    message: InboundMessage
    media: tuple[MediaRef, ...] = ()


@dataclass(frozen=True)
class StatusUpdate:
    external_id: str
    status: str  # one of Message.DeliveryStatus
    error: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class WebhookBatch:
    inbound: list[Inbound] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


class ChannelAdapter:
    """Subclass per provider and register with `adapter_register`."""

    kind: str  # Inbox.Kind

    def handshake(self, request: HttpRequest, inbox: Inbox) -> HttpResponse | None:
        """Answer a provider's GET verification challenge; None if it has none."""
        return None

    def verify(self, request: HttpRequest, inbox: Inbox) -> None:
        """Raise WebhookRejected unless the request is signed by the provider."""
        raise NotImplementedError

    def parse(self, request: HttpRequest, inbox: Inbox) -> WebhookBatch:
        """Plain data from a verified request; raise PayloadInvalid for nonsense."""
        raise NotImplementedError

    def media_download(self, inbox: Inbox, media: MediaRef) -> tuple[bytes, str, str]:
        """(content, content_type, file name) of a media reference."""
        raise NotImplementedError

    def send(self, message: Message) -> str:
        """Deliver an outbound message; return the provider's id for it."""
        raise NotImplementedError


_adapters: dict[str, ChannelAdapter] = {}


def adapter_register(adapter_class: type[ChannelAdapter]) -> type[ChannelAdapter]:
    """Register an adapter for its inbox kind, and its `send` as the channel's sender."""
    from ..delivery import sender_register

    adapter = adapter_class()
    _adapters[adapter.kind] = adapter
    channel = Inbox(kind=adapter.kind).channel
    sender_register(channel)(adapter.send)
    return adapter_class


def adapter_for(kind: str) -> ChannelAdapter | None:
    return _adapters.get(kind)
