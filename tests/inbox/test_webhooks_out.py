import pytest
from django.db import transaction

from inbox.models import Channel, Inbox, Ticket
from inbox.services import (
    Identity,
    InboundMessage,
    message_ingest,
    ticket_set_status,
    webhook_event_emit,
)
from inbox.webhooks import signing
from inbox.webhooks.models import WebhookDelivery, WebhookEndpoint
from inbox.webhooks.tasks import webhook_deliver
from tests.channels.fake_provider import Reply, fake_provider_running
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    with fake_provider_running() as fake:
        yield fake


@pytest.fixture
def enqueued(monkeypatch):
    ids = []
    monkeypatch.setattr(webhook_deliver, "delay", ids.append)
    return ids


def _ticket(inbox, external_id="tg-1"):
    return message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.TELEGRAM, sender=[Identity("telegram", "7")],
        sender_name="Ana", body_text="Where is my order?", external_id=external_id,
    )).message.ticket


# --- signing ---------------------------------------------------------------------------

def test_signature_verifies_and_refuses_tampering_wrong_secret_and_staleness():
    header = signing.signature_header(secret="s3cret", body=b'{"a":1}', timestamp=1_000)
    assert header.startswith("t=1000,v1=")
    verify = signing.signature_verify
    assert verify(secret="s3cret", body=b'{"a":1}', header=header, now=1_100) is True
    assert verify(secret="s3cret", body=b'{"a":2}', header=header, now=1_100) is False
    assert verify(secret="other", body=b'{"a":1}', header=header, now=1_100) is False
    assert verify(secret="s3cret", body=b'{"a":1}', header=header, now=1_301) is False
    assert verify(secret="s3cret", body=b'{"a":1}', header="v1=abc", now=1_000) is False
    assert verify(secret="s3cret", body=b'{"a":1}', header="garbage", now=1_000) is False


# --- what gets queued ------------------------------------------------------------------

def test_domain_events_queue_one_delivery_per_interested_endpoint(
        enqueued, django_capture_on_commit_callbacks):
    inbox, other_inbox = InboxFactory(kind=Inbox.Kind.TELEGRAM), InboxFactory(kind="telegram")
    everything = WebhookEndpoint.objects.create(name="all", url="http://127.0.0.1:9/all")
    resolved_only = WebhookEndpoint.objects.create(
        name="resolved", url="http://127.0.0.1:9/r", events=["ticket.resolved"])
    elsewhere = WebhookEndpoint.objects.create(name="other inbox", url="http://127.0.0.1:9/o")
    elsewhere.inboxes.set([other_inbox])
    WebhookEndpoint.objects.create(name="off", url="http://127.0.0.1:9/off", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        ticket = _ticket(inbox)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=None)

    rows = list(WebhookDelivery.objects.order_by("created_at", "event")
                .values_list("endpoint__name", "event"))
    assert sorted(rows) == sorted([
        ("all", "ticket.created"), ("all", "message.created"),
        ("all", "ticket.resolved"), ("resolved", "ticket.resolved"),
    ])
    assert sorted(enqueued) == sorted(str(pk) for pk in WebhookDelivery.objects.values_list("pk", flat=True))
    created = WebhookDelivery.objects.get(endpoint=everything, event="message.created")
    assert created.payload["message"]["body"] == "Where is my order?"
    assert created.payload["ticket"]["id"] == ticket.pk
    assert resolved_only.deliveries.get().payload["ticket"]["status"] == "resolved"


def test_a_reopen_is_delivered_as_ticket_reopened(enqueued, django_capture_on_commit_callbacks):
    ticket = _ticket(InboxFactory(kind=Inbox.Kind.TELEGRAM))
    ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=None)
    endpoint = WebhookEndpoint.objects.create(
        name="reopens", url="http://127.0.0.1:9/re", events=["ticket.reopened"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=ticket, status=Ticket.Status.OPEN, by=None)
    delivery = endpoint.deliveries.get()
    assert (delivery.event, delivery.payload["ticket"]["id"],
            delivery.payload["ticket"]["status"]) == ("ticket.reopened", ticket.pk, "open")
    assert enqueued == [str(delivery.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_queues_nothing(enqueued):
    inbox = InboxFactory(kind=Inbox.Kind.TELEGRAM)
    ticket = _ticket(inbox)
    WebhookEndpoint.objects.create(name="all", url="http://127.0.0.1:9/all")
    with pytest.raises(RuntimeError), transaction.atomic():
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=None)
        raise RuntimeError
    assert WebhookDelivery.objects.count() == 0
    assert enqueued == []


def test_no_endpoint_no_rows(enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _ticket(InboxFactory(kind=Inbox.Kind.TELEGRAM))
    assert (WebhookDelivery.objects.count(), enqueued) == (0, [])


def test_a_first_message_asks_once_whether_any_endpoint_listens(
        enqueued, django_capture_on_commit_callbacks, django_assert_num_queries, monkeypatch):
    """ticket.created and message.created of one change are dispatched in one round."""
    monkeypatch.setattr("inbox.realtime.get_channel_layer", lambda: None)  # no live events
    inbox = InboxFactory(kind=Inbox.Kind.TELEGRAM)
    with django_capture_on_commit_callbacks() as callbacks:
        _ticket(inbox)
    with django_assert_num_queries(1):  # the endpoint check, for both events
        for callback in callbacks:
            callback()


# --- delivery --------------------------------------------------------------------------

def _delivery(url, event="survey.answered", payload=None):
    endpoint = WebhookEndpoint.objects.create(name="crm", url=url)
    webhook_event_emit(event=event, payload=payload or {"score": 2})
    return endpoint, WebhookDelivery.objects.get(endpoint=endpoint)


def test_delivery_is_signed_and_recorded(receiver, enqueued):
    receiver.script("POST", "/hook", Reply(200, json={"ok": True}))
    endpoint, delivery = _delivery(receiver.url + "/hook", payload={"score": 2, "kind": "csat"})
    webhook_deliver.apply(args=[str(delivery.pk)])

    [request] = receiver.requests
    assert request.headers["X-Switchboard-Event"] == "survey.answered"
    assert request.headers["X-Switchboard-Delivery"] == str(delivery.pk)
    assert signing.signature_verify(secret=endpoint.secret, body=request.body,
                                    header=request.headers[signing.HEADER]) is True
    assert request.json() == {
        "id": str(delivery.pk), "event": "survey.answered",
        "created_at": delivery.created_at.isoformat(), "data": {"score": 2, "kind": "csat"},
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.error) == (
        "delivered", 1, 200, "")
    assert delivery.delivered_at is not None
    # A redelivered task finds it done and sends nothing more.
    webhook_deliver.apply(args=[str(delivery.pk)])
    assert len(receiver.requests) == 1


def test_failures_are_retried_until_success(receiver, enqueued):
    receiver.script("POST", "/hook", Reply(500), Reply(503), Reply(204))
    _, delivery = _delivery(receiver.url + "/hook")
    webhook_deliver.apply(args=[str(delivery.pk)])
    delivery.refresh_from_db()
    assert len(receiver.requests) == 3
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 204)
    # Every attempt carried the same delivery id, so the receiver can drop duplicates.
    assert {r.headers["X-Switchboard-Delivery"] for r in receiver.requests} == {str(delivery.pk)}


def test_attempts_run_out(receiver, enqueued, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.script("POST", "/hook", Reply(500))
    _, delivery = _delivery(receiver.url + "/hook")
    webhook_deliver.apply(args=[str(delivery.pk)])
    delivery.refresh_from_db()
    assert len(receiver.requests) == 3
    assert (delivery.status, delivery.attempts, delivery.error) == ("failed", 3, "HTTP 500")


def test_an_unreachable_receiver_is_retried_then_failed(enqueued, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    _, delivery = _delivery("http://127.0.0.1:9/nothing-listens")
    webhook_deliver.apply(args=[str(delivery.pk)])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 2, None)
    assert delivery.error == "no answer (ConnectError)"


def test_gone_disables_the_endpoint(receiver, enqueued):
    receiver.script("POST", "/hook", Reply(410))
    endpoint, delivery = _delivery(receiver.url + "/hook")
    webhook_deliver.apply(args=[str(delivery.pk)])
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts, endpoint.is_active) == ("failed", 1, False)
    assert webhook_event_emit(event="survey.answered", payload={}) == 0


# --- API -------------------------------------------------------------------------------

def test_admins_manage_endpoints_and_read_deliveries(api, admin_agent, agent, enqueued):
    inbox = InboxFactory()
    response = api(admin_agent).post("/api/v1/webhooks/", {
        "name": "CRM", "url": "https://crm.example.com/hooks", "events": ["survey.answered"],
        "inboxes": [inbox.pk],
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["events"], body["inboxes"], body["is_active"]) == (
        "CRM", ["survey.answered"], [inbox.pk], True)
    assert len(body["secret"]) >= 40
    webhook_event_emit(event="survey.answered", payload={"score": 5}, inbox_id=inbox.pk)
    listed = api(admin_agent).get(f"/api/v1/webhooks/{body['id']}/deliveries/").json()
    assert [(d["event"], d["payload"], d["status"]) for d in listed["results"]] == [
        ("survey.answered", {"score": 5}, "pending")]

    assert api(agent).get("/api/v1/webhooks/").status_code == 403
    assert api(None).get("/api/v1/webhooks/").status_code in (401, 403)


@pytest.mark.parametrize("data, field", [
    ({"name": "x", "url": "ftp://example.com/"}, "url"),
    ({"name": "x", "url": "https://example.com/", "events": ["ticket.exploded"]}, "events"),
    ({"url": "https://example.com/"}, "name"),
])
def test_bad_endpoint_is_a_json_400(api, admin_agent, data, field):
    response = api(admin_agent).post("/api/v1/webhooks/", data, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["fields"]
    assert WebhookEndpoint.objects.count() == 0
