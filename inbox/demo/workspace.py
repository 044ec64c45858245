"""The demo's inboxes, teams, agents and labels, created idempotently (by slug, name, username)."""

from dataclasses import dataclass

from django.db import transaction

from ..models import Agent, Inbox, Label, Team

# slug, kind, name, share of the tickets
INBOXES = [
    ("support", Inbox.Kind.EMAIL, "Support email", 35),
    ("website-chat", Inbox.Kind.WIDGET, "Website chat", 20),
    ("whatsapp", Inbox.Kind.WHATSAPP, "WhatsApp", 18),
    ("telegram", Inbox.Kind.TELEGRAM, "Telegram bot", 8),
    ("messenger", Inbox.Kind.MESSENGER, "Facebook Messenger", 7),
    ("instagram", Inbox.Kind.INSTAGRAM, "Instagram", 6),
    ("sms", Inbox.Kind.TWILIO, "SMS (Twilio)", 6),
]

# Replies from the demo mailbox go out through the site's mail backend (on the embedded
# default: .eml files under var/sent-mail/).
INBOX_CONFIGS = {"support": {"address": "support@example.com", "from_name": "Demo Support"}}

TEAMS = {
    "Customer Care": ["support", "website-chat"],
    "Messaging": ["whatsapp", "telegram", "sms"],
    "Social": ["messenger", "instagram"],
}

# username, display name, language, team (led by its first agent), inboxes.
AGENTS = [
    ("maria", "Maria Santos", "en", "Customer Care", ["support", "website-chat"]),
    ("james", "James Carter", "en", "Customer Care", ["support", "website-chat", "messenger"]),
    ("dewi", "Dewi Anggraini", "id", "Customer Care", ["support", "website-chat", "whatsapp"]),
    ("wei", "李伟", "zh-hans", "Customer Care", ["support", "website-chat", "telegram"]),
    ("budi", "Budi Hartono", "id", "Messaging", ["whatsapp", "telegram", "sms"]),
    ("tom", "Tom Becker", "en", "Messaging", ["sms", "telegram", "support"]),
    ("siti", "Siti Aminah", "id", "Messaging", ["whatsapp", "instagram", "messenger"]),
    ("ana", "Ana Lopez", "en", "Social", ["instagram", "messenger", "website-chat"]),
    ("jing", "陈静", "zh-hans", "Social", ["whatsapp", "messenger", "instagram"]),
]

LABELS = [
    ("billing", "#2563eb"), ("refund", "#dc2626"), ("shipping", "#d97706"), ("bug", "#7c3aed"),
    ("account", "#0891b2"), ("feature-request", "#16a34a"), ("vip", "#db2777"),
    ("complaint", "#b91c1c"), ("returns", "#ca8a04"), ("onboarding", "#4b5563"),
]


@dataclass(frozen=True)
class DemoInbox:
    id: int
    slug: str
    channel: str
    team_id: int | None
    member_ids: tuple[int, ...]
    weight: int


@dataclass(frozen=True)
class Workspace:
    inboxes: tuple[DemoInbox, ...]
    agent_names: dict[int, str]  # id -> display name, for replies' sign-offs
    label_ids: dict[str, int]


@transaction.atomic
def workspace_ensure(*, agent_password: str | None = None) -> Workspace:
    """Create what is missing and return ids; existing rows keep their settings and logins."""
    admin, created = Agent.objects.get_or_create(
        username="admin",
        defaults={"email": "admin@example.com", "role": Agent.Role.ADMIN, "is_staff": True,
                  "is_superuser": True, "display_name": "Admin"},
    )
    if created:  # its login is set by `up` or `changepassword`, never here
        admin.set_unusable_password()
        admin.save(update_fields=["password"])
    teams = {name: Team.objects.get_or_create(name=name)[0] for name in TEAMS}
    team_of_inbox = {slug: teams[name] for name, slugs in TEAMS.items() for slug in slugs}
    inboxes = {
        slug: Inbox.objects.get_or_create(
            slug=slug, defaults={"kind": kind, "name": name, "team": team_of_inbox[slug],
                                 "config": INBOX_CONFIGS.get(slug, {})},
        )[0]
        for slug, kind, name, _ in INBOXES
    }
    agent_names = {admin.pk: admin.name}
    for username, display_name, language, team_name, inbox_slugs in AGENTS:
        agent = _agent_ensure(username, display_name, language, agent_password)
        teams[team_name].members.add(agent)
        if teams[team_name].lead_id is None:
            teams[team_name].lead = agent
            teams[team_name].save(update_fields=["lead"])
        for slug in inbox_slugs:
            inboxes[slug].members.add(agent)
        agent_names[agent.pk] = agent.name
    members = Inbox.members.through.objects.filter(inbox__in=inboxes.values())
    member_ids: dict[int, list[int]] = {}
    for inbox_id, agent_id in members.order_by("agent_id").values_list("inbox_id", "agent_id"):
        member_ids.setdefault(inbox_id, []).append(agent_id)
    for agent in Agent.objects.filter(pk__in={a for ids in member_ids.values() for a in ids}):
        agent_names.setdefault(agent.pk, agent.name)
    return Workspace(
        inboxes=tuple(
            DemoInbox(
                id=inboxes[slug].pk, slug=slug, channel=inboxes[slug].channel,
                team_id=inboxes[slug].team_id, member_ids=tuple(member_ids[inboxes[slug].pk]),
                weight=weight,
            )
            for slug, _, _, weight in INBOXES
        ),
        agent_names=agent_names,
        label_ids={
            name: Label.objects.get_or_create(name=name, defaults={"color": color})[0].pk
            for name, color in LABELS
        },
    )


def _agent_ensure(username: str, display_name: str, language: str,
                  password: str | None) -> Agent:
    agent, created = Agent.objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@example.com", "display_name": display_name,
                  "language": language},
    )
    if password:
        agent.set_password(password)
    elif created:
        agent.set_unusable_password()
    if password or created:
        agent.save(update_fields=["password"])
    return agent
