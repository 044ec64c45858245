from django.contrib.auth.password_validation import validate_password
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..channels.meta import reply_window
from ..models import Agent, Channel, Contact, ContactIdentity, Inbox, Message, Team, Ticket
from ..presenters import message_payload


class AgentRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Agent
        fields = ["id", "name", "email"]


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactIdentity
        fields = ["kind", "value", "verified"]


class ContactSerializer(serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "name", "language", "identities", "created_at"]
        read_only_fields = ["created_at"]


class ContactRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name"]


class InboxRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Inbox
        fields = ["id", "name", "kind", "slug"]


class TicketSerializer(serializers.ModelSerializer):
    number = serializers.IntegerField(read_only=True)
    inbox = InboxRefSerializer(read_only=True)
    contact = ContactRefSerializer(read_only=True)
    assignee = AgentRefSerializer(read_only=True)
    labels = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id", "number", "subject", "status", "priority", "channel", "inbox", "contact",
            "assignee", "team", "labels", "parent", "created_at", "last_activity_at",
            "resolved_at", "snoozed_until", "last_seq",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_labels(self, ticket) -> list[str]:
        return sorted(label.name for label in ticket.labels.all())


class TicketDetailSerializer(TicketSerializer):
    contact = ContactSerializer(read_only=True)
    reply_window = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "reply_window"]

    @extend_schema_field({
        "type": "object", "nullable": True,
        "description": "Set when a reply would go out on a channel with a messaging window "
                       "(WhatsApp: free-form text only within 24 h of the customer's last "
                       "message).",
        "properties": {"channel": {"type": "string"}, "open": {"type": "boolean"},
                       "closes_at": {"type": "string", "format": "date-time",
                                     "nullable": True}},
    })
    def get_reply_window(self, ticket) -> dict | None:
        return reply_window(ticket)


class AuthorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Message.AuthorType.choices)
    id = serializers.IntegerField(required=False)
    name = serializers.CharField()


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    """M of SPEC §4 (plus HTML body and delivery status for agents)."""

    id = serializers.IntegerField()
    ticket_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=Message.Direction.choices)
    channel = serializers.ChoiceField(choices=Channel.choices, allow_null=True)
    author = AuthorSerializer()
    body = serializers.CharField()
    body_html = serializers.CharField()
    attachments = AttachmentSerializer(many=True)
    delivery_status = serializers.CharField(allow_null=True)
    delivery_error = serializers.CharField(allow_null=True)
    client_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, message):
        return message_payload(message)


class MessageCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["reply", "note"])
    body = serializers.CharField(max_length=100_000, trim_whitespace=False)
    body_html = serializers.CharField(required=False, allow_blank=True, max_length=500_000)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_null=True)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "format": "email"}],
                      "nullable": True})
class AgentLookupField(serializers.Field):
    """An agent given by id or by email; null unassigns."""

    default_error_messages = {"unknown": "No agent with this id or email."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("unknown")
        agents = Agent.objects.filter(is_active=True)
        if isinstance(data, int) or (isinstance(data, str) and data.isdigit()):
            agent = agents.filter(pk=int(data)).first()
        elif isinstance(data, str):
            agent = agents.filter(email__iexact=data.strip()).first()
        else:
            agent = None
        if agent is None:
            self.fail("unknown")
        return agent

    def to_representation(self, agent):
        return agent.pk


class TicketPatchSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    assignee = AgentLookupField(required=False, allow_null=True)
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    labels = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Nothing to change.")
        return attrs


class AssignSerializer(serializers.Serializer):
    assignee = AgentLookupField(allow_null=True)


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Ticket.Status.choices)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)


class LabelsSerializer(serializers.Serializer):
    add = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    remove = serializers.ListField(child=serializers.CharField(max_length=64), required=False)

    def validate(self, attrs):
        if not attrs.get("add") and not attrs.get("remove"):
            raise serializers.ValidationError("Give labels to add or remove.")
        return attrs


class MergeSerializer(serializers.Serializer):
    into = serializers.IntegerField(help_text="The contact that remains.")


class TimelineEntrySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["message", "event"])
    at = serializers.DateTimeField()
    message = MessageSerializer(required=False)
    event = serializers.DictField(required=False)

    def to_representation(self, entry):
        if entry["kind"] == "message":
            return {"kind": "message", "at": entry["at"].isoformat(),
                    "message": message_payload(entry["message"])}
        event = entry["event"]
        return {
            "kind": "event", "at": entry["at"].isoformat(),
            "event": {"id": event.pk, "type": event.type, "data": event.data,
                      "actor": event.actor.name if event.actor_id else None},
        }


class InboxSerializer(serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Agent.objects.all(), required=False
    )
    secrets = serializers.DictField(
        child=serializers.CharField(allow_null=True, max_length=4096), write_only=True,
        required=False,
        help_text="Credentials stored encrypted (e.g. smtp_password); null removes one.",
    )
    secret_names = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Inbox
        fields = [
            "id", "kind", "name", "slug", "key", "identity_secret", "config", "secrets",
            "secret_names", "members", "team", "reopen_window", "created_at",
        ]
        read_only_fields = ["key", "identity_secret", "created_at"]

    def create(self, validated_data):
        secrets = validated_data.pop("secrets", None)
        inbox = Inbox(**{k: v for k, v in validated_data.items() if k != "members"})
        if secrets:
            inbox.secrets_update(secrets)
        inbox.save()
        inbox.members.set(validated_data.get("members", []))
        return inbox

    def update(self, inbox, validated_data):
        secrets = validated_data.pop("secrets", None)
        if secrets:
            inbox.secrets_update(secrets)
        return super().update(inbox, validated_data)

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object.")
        return value

    def to_representation(self, inbox):
        data = super().to_representation(inbox)
        if inbox.kind != Inbox.Kind.WIDGET:
            data.pop("identity_secret")
        return data


class AgentSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, required=False)
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Agent
        fields = [
            "id", "username", "email", "name", "display_name", "role", "language",
            "availability", "inboxes", "teams", "is_active", "password",
        ]
        extra_kwargs = {"inboxes": {"required": False}, "teams": {"required": False}}

    def validate_password(self, value):
        validate_password(value)
        return value

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        inboxes = validated_data.pop("inboxes", [])
        teams = validated_data.pop("teams", [])
        agent = Agent(**validated_data)
        agent.is_staff = agent.role == Agent.Role.ADMIN
        if password:
            agent.set_password(password)
        else:
            agent.set_unusable_password()
        agent.save()
        agent.inboxes.set(inboxes)
        agent.teams.set(teams)
        return agent

    def update(self, agent, validated_data):
        password = validated_data.pop("password", None)
        agent = super().update(agent, validated_data)
        agent.is_staff = agent.role == Agent.Role.ADMIN or agent.is_superuser
        if password:
            agent.set_password(password)
        agent.save()
        return agent


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "lead", "members"]
