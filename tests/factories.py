import factory
from django.utils import timezone

from inbox.models import Agent, Contact, ContactIdentity, Inbox, Team, Ticket


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"agent{n}")
    email = factory.LazyAttribute(lambda a: f"{a.username}@example.com")
    display_name = factory.LazyAttribute(lambda a: a.username.title())
    password = factory.django.Password("pw-123456")


class AdminFactory(AgentFactory):
    role = Agent.Role.ADMIN
    is_staff = True


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class InboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inbox
        skip_postgeneration_save = True

    kind = Inbox.Kind.EMAIL
    name = factory.Sequence(lambda n: f"Inbox {n}")
    slug = factory.Sequence(lambda n: f"inbox-{n}")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    name = factory.Faker("name")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactIdentity

    contact = factory.SubFactory(ContactFactory)
    kind = ContactIdentity.Kind.EMAIL
    value = factory.Sequence(lambda n: f"customer{n}@example.net")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    inbox = factory.SubFactory(InboxFactory)
    contact = factory.SubFactory(ContactFactory)
    subject = factory.Sequence(lambda n: f"Question {n}")
    channel = factory.LazyAttribute(lambda t: t.inbox.channel)
    created_at = factory.LazyFunction(timezone.now)
    last_activity_at = factory.LazyAttribute(lambda t: t.created_at)
