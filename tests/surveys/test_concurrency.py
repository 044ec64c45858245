"""Two workers holding the same invitation at once (a redelivery racing the original)
send it once: the row lock decides. PostgreSQL only (SQLite has no row locks)."""

import threading

import pytest
from django.db import connection

from inbox.models import Message, TicketEvent
from inbox.services import Identity
from surveys.models import Invitation
from surveys.services import invitation_send


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_invitation_send_once(postgres_only, email_inbox, conversation,
                                                      resolve, queue):
    resolve(conversation(email_inbox, Identity("email", "budi@example.net"), "email"))
    [(invitation_id, _eta)] = queue.surveys
    barrier, errors = threading.Barrier(2), []

    def worker():
        try:
            barrier.wait()
            invitation_send(invitation_id=invitation_id)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert Invitation.objects.get().status == "sent"
    assert Message.objects.filter(author_type=Message.AuthorType.SYSTEM).count() == 1
    assert TicketEvent.objects.filter(type=TicketEvent.Type.SURVEY_SENT).count() == 1
    assert len(queue.deliveries) == 1
