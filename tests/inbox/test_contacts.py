import pytest

from inbox.models import Channel, Contact, ContactIdentity, ContactMerge, Inbox, Ticket
from inbox.services import Identity, InboundMessage, contact_merge, message_ingest
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


def ingest(inbox, channel, identity, body, **kwargs):
    return message_ingest(data=InboundMessage(
        inbox=inbox, channel=channel, sender=[identity], body_text=body, **kwargs
    )).message


@pytest.fixture
def two_profiles(agent):
    """One person, two contacts: an email sender and an anonymous widget visitor."""
    email = InboxFactory(kind=Inbox.Kind.EMAIL, members=[agent])
    widget = InboxFactory(kind=Inbox.Kind.WIDGET, members=[agent])
    mail = ingest(email, Channel.EMAIL, Identity("email", "rina@example.co.id"), "Halo, pesanan",
                  external_id="<1@x>", sender_name="Rina")
    chat = ingest(widget, Channel.WIDGET, Identity("visitor", "v-77"), "你好")
    return mail, chat


def test_merge_moves_tickets_identities_and_is_audited(two_profiles, agent, api):
    mail, chat = two_profiles
    source, target = chat.ticket.contact, mail.ticket.contact
    response = api(agent).post(f"/api/v1/contacts/{source.pk}/merge/", {"into": target.pk},
                               format="json")
    assert response.status_code == 200, response.json()
    assert {(i["kind"], i["value"]) for i in response.json()["identities"]} == {
        ("email", "rina@example.co.id"), ("visitor", "v-77")
    }
    assert set(Ticket.objects.values_list("contact_id", flat=True)) == {target.pk}
    assert ContactIdentity.objects.filter(contact=source).count() == 0
    source.refresh_from_db()
    assert source.merged_into_id == target.pk
    merge = ContactMerge.objects.get()
    assert (merge.source_contact_id, merge.target_id, merge.merged_by_id) == (
        source.pk, target.pk, agent.pk)
    assert merge.moved_ticket_ids == [chat.ticket_id]
    assert merge.moved_identities == [{"kind": "visitor", "value": "v-77"}]
    assert chat.ticket.events.filter(type="merged").count() == 1
    # Merged contacts leave lists; the new visitor message now lands on the merged contact.
    assert [c["id"] for c in api(agent).get("/api/v1/contacts/").json()["results"]] == [target.pk]
    widget = chat.inbox
    later = ingest(widget, Channel.WIDGET, Identity("visitor", "v-77"), "again")
    assert later.ticket.contact_id == target.pk and later.ticket_id == chat.ticket_id


def test_contact_timeline_shows_every_channel_in_time_order(two_profiles, agent, api):
    mail, chat = two_profiles
    contact_merge(source=chat.ticket.contact, target=mail.ticket.contact, by=agent)
    rows = api(agent).get(f"/api/v1/contacts/{mail.ticket.contact_id}/timeline/").json()["results"]
    assert [(m["channel"], m["body"]) for m in rows] == [
        ("email", "Halo, pesanan"), ("widget", "你好")
    ]


@pytest.mark.parametrize("into", ["self", "merged"])
def test_invalid_merges_are_refused(two_profiles, agent, api, into):
    mail, chat = two_profiles
    source, target = chat.ticket.contact, mail.ticket.contact
    if into == "merged":
        contact_merge(source=source, target=target, by=agent)
        other = Contact.objects.create(name="Other")
        with pytest.raises(Exception) as error:
            contact_merge(source=other, target=source, by=agent)
        assert error.value.code == "already_merged"
        return
    response = api(agent).post(f"/api/v1/contacts/{target.pk}/merge/", {"into": target.pk},
                               format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "same_contact"


def test_contact_search_by_identity(two_profiles, agent, api):
    mail, _ = two_profiles
    rows = api(agent).get("/api/v1/contacts/?q=rina@").json()["results"]
    assert [c["id"] for c in rows] == [mail.ticket.contact_id]
