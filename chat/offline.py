"""Offline continuity: an agent's widget reply the customer has not read within the inbox's
`offline_email_minutes` (default 2) is emailed to them, when they have an email address.
Their reply to that email threads back into the same ticket (Reply-To carries its token)."""

from datetime import timedelta

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from inbox.channels.email.send import (
    connection_open,
    header_clean,
    reply_subject_build,
    reply_to_build,
    send_error_classify,
)
from inbox.models import Channel, ContactIdentity, Inbox, Message, Ticket

from .models import ReadMarker

DEFAULT_MINUTES = 2
RECENT_MESSAGES = 10


def email_inbox_for(widget: Inbox) -> Inbox | None:
    """The email inbox that sends a widget's offline emails (config `offline_email_inbox`,
    a slug), else the first email inbox with an address."""
    email_inboxes = Inbox.objects.filter(kind=Inbox.Kind.EMAIL, config__has_key="address")
    slug = widget.config.get("offline_email_inbox")
    return (email_inboxes.filter(slug=slug) if slug else email_inboxes).order_by("id").first()


def offline_due(*, now=None) -> list[tuple[int, int]]:
    """(ticket id, last unread agent seq) for every ticket owed an offline email."""
    now = now or timezone.now()
    due = []
    for widget in Inbox.objects.filter(kind=Inbox.Kind.WIDGET):
        minutes = widget.config.get("offline_email_minutes", DEFAULT_MINUTES)
        if minutes is None:  # switched off for this inbox
            continue
        rows = (
            Message.objects.filter(
                inbox=widget, channel=Channel.WIDGET, direction=Message.Direction.OUTBOUND,
                created_at__lte=now - timedelta(minutes=float(minutes)),
                created_at__gte=now - timedelta(days=2),
            )
            .exclude(delivery_status=Message.DeliveryStatus.READ)
            .values("ticket_id").annotate(last=Max("seq"))
        )
        due += [(row["ticket_id"], row["last"]) for row in rows]
    handled = {
        marker.ticket_id: max(marker.contact_seq, marker.emailed_seq)
        for marker in ReadMarker.objects.filter(ticket_id__in=[t for t, _ in due])
    }
    return [(ticket_id, seq) for ticket_id, seq in due if seq > handled.get(ticket_id, 0)]


def offline_email_send(*, ticket_id: int, up_to_seq: int) -> bool:
    """Email the recent conversation if the reply is still unread and not emailed yet."""
    with transaction.atomic():
        marker, _ = ReadMarker.objects.select_for_update().get_or_create(ticket_id=ticket_id)
        if up_to_seq <= max(marker.contact_seq, marker.emailed_seq):
            return False
        ticket = Ticket.objects.select_related("contact").get(pk=ticket_id)
        address = (ticket.contact.identities.filter(kind=ContactIdentity.Kind.EMAIL)
                   .order_by("-verified", "id").values_list("value", flat=True).first())
        widget = Inbox.objects.get(pk=Message.objects.filter(
            ticket=ticket, seq=up_to_seq).values("inbox_id")[:1])
        sender = email_inbox_for(widget)
        if not address or sender is None:
            return False
        marker.emailed_seq = up_to_seq
        marker.save(update_fields=["emailed_seq"])
        # Mail goes out after commit would be ideal, but a lost email beats a duplicate:
        # the marker commits with the send, and a failed send raises and rolls it back.
        _send(ticket, widget, sender, address, up_to_seq)
    return True


def _send(ticket: Ticket, widget: Inbox, sender: Inbox, address: str, up_to_seq: int) -> None:
    messages = list(reversed(
        ticket.messages.exclude(direction=Message.Direction.NOTE)
        .filter(seq__lte=up_to_seq).select_related("author_agent", "author_contact")
        .order_by("-seq")[:RECENT_MESSAGES]
    ))
    context = {"ticket": ticket, "messages": messages, "widget": widget}
    from_address = sender.config["address"]
    from_name = header_clean(sender.config.get("from_name") or widget.name)
    email = EmailMultiAlternatives(
        subject=reply_subject_build(ticket.subject or widget.name, ticket.number),
        body=render_to_string("chat/offline_email.txt", context),
        from_email=f"{from_name} <{from_address}>",
        to=[address],
        reply_to=[reply_to_build(from_address, ticket.token)],
        headers={"Auto-Submitted": "auto-generated", "X-Switchboard-Ticket": str(ticket.number)},
        connection=connection_open(sender),
    )
    email.attach_alternative(render_to_string("chat/offline_email.html", context), "text/html")
    try:
        email.send(fail_silently=False)
    except Exception as exc:
        raise send_error_classify(exc) from exc
