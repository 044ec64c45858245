from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..errors import InvalidInput
from ..models import Agent, Contact, ContactIdentity, ContactMerge, Message, TicketEvent
from ..realtime import TICKET_UPDATED, inbox_group, publish, ticket_group
from ..presenters import ticket_summary_payload


@dataclass(frozen=True)
class Identity:
    kind: str
    value: str
    verified: bool = False

    def normalized(self) -> "Identity":
        value = self.value.strip()
        if self.kind == ContactIdentity.Kind.EMAIL:
            value = value.lower()
        elif self.kind == ContactIdentity.Kind.PHONE:
            value = "+" + "".join(ch for ch in value if ch.isdigit())
        return Identity(kind=self.kind, value=value, verified=self.verified)


def contact_resolve(*, identities: list[Identity], name: str = "") -> Contact:
    """Find the contact owning one of `identities` (verified ones first) or create one.

    Identities not yet known are attached to the contact found; an identity that already
    belongs to another contact is left there (merging is an explicit, audited action).
    """
    return contact_resolve_new(identities=identities, name=name)[0]


def contact_resolve_new(*, identities: list[Identity], name: str = "") -> tuple[Contact, bool]:
    """`contact_resolve`, and whether the contact was created by this call (so it is
    still invisible to other transactions)."""
    identities = [i.normalized() for i in identities if i.value and i.value.strip()]
    if not identities:
        raise InvalidInput("A sender needs at least one identity.", code="no_identity")
    identities.sort(key=lambda i: not i.verified)
    known = {
        (row.kind, row.value): row
        for row in ContactIdentity.objects.select_related("contact").filter(
            kind__in={i.kind for i in identities}, value__in={i.value for i in identities}
        )
    }
    contact = next(
        (known[(i.kind, i.value)].contact for i in identities if (i.kind, i.value) in known),
        None,
    )
    created = None
    if contact is None:
        contact = created = Contact.objects.create(name=name)
    elif name and not contact.name:
        contact.name = name
        contact.save(update_fields=["name"])
    for identity in identities:
        row = known.get((identity.kind, identity.value))
        if row is None:
            contact = _identity_attach(contact, identity)
        elif identity.verified and not row.verified and row.contact_id == contact.pk:
            ContactIdentity.objects.filter(pk=row.pk).update(verified=True)
    # A concurrent writer may have attached the identity first: then its contact is used.
    return contact, created is not None and contact.pk == created.pk


def _identity_attach(contact: Contact, identity: Identity) -> Contact:
    """Attach an identity; if a concurrent writer created it first, adopt its contact."""
    try:
        with transaction.atomic():
            ContactIdentity.objects.create(
                contact=contact, kind=identity.kind, value=identity.value,
                verified=identity.verified,
            )
        return contact
    except IntegrityError:
        owner = ContactIdentity.objects.select_related("contact").get(
            kind=identity.kind, value=identity.value
        ).contact
        if contact.pk != owner.pk and not contact.identities.exists():
            contact.delete()  # the empty contact we just made for a sender that already existed
            return owner
        return contact


@transaction.atomic
def contact_merge(*, source: Contact, target: Contact, by: Agent | None) -> ContactMerge:
    """Move `source`'s identities, tickets and messages to `target`, with an audit record."""
    if source.pk == target.pk:
        raise InvalidInput("A contact cannot be merged into itself.", code="same_contact")
    if source.merged_into_id or target.merged_into_id:
        raise InvalidInput("That contact has already been merged.", code="already_merged")
    now = timezone.now()
    ticket_ids = list(source.tickets.values_list("id", flat=True))
    identities = [
        {"kind": kind, "value": value}
        for kind, value in source.identities.values_list("kind", "value")
    ]
    source.identities.update(contact=target)
    source.tickets.update(contact=target)
    Message.objects.filter(author_contact=source).update(author_contact=target)
    if not target.name and source.name:
        target.name = source.name
        target.save(update_fields=["name"])
    source.merged_into = target
    source.save(update_fields=["merged_into"])
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket_id=ticket_id, type=TicketEvent.Type.MERGED, at=now, actor=by,
            data={"from_contact": source.pk, "into_contact": target.pk},
        )
        for ticket_id in ticket_ids
    )
    merge = ContactMerge.objects.create(
        source_contact_id=source.pk, source_name=source.name, target=target, merged_by=by,
        moved_ticket_ids=ticket_ids, moved_identities=identities, at=now,
    )
    for ticket in target.tickets.filter(pk__in=ticket_ids):
        publish(
            [inbox_group(ticket.inbox_id), ticket_group(ticket.pk)],
            TICKET_UPDATED, ticket_summary_payload(ticket),
        )
    return merge
