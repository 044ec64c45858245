"""How timeline events read: one short, translated line each, like a helpdesk's audit log."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from inbox.models import Channel, Ticket, TicketEvent

SURVEY_KINDS = {"csat": "CSAT", "nps": "NPS", "ces": "CES"}

# The inbox's choice labels the agent inbox shows (statuses, channels, delivery...): listed
# here so this app's catalog carries their translations.
INBOX_LABELS = [
    gettext_noop("Open"), gettext_noop("Pending"), gettext_noop("Snoozed"),
    gettext_noop("Resolved"), gettext_noop("Closed"), gettext_noop("Low"),
    gettext_noop("Normal"), gettext_noop("High"), gettext_noop("Urgent"),
    gettext_noop("Email"), gettext_noop("Chat widget"), gettext_noop("Telegram"),
    gettext_noop("WhatsApp"), gettext_noop("Messenger"), gettext_noop("Instagram"),
    gettext_noop("SMS"), gettext_noop("Inbound"), gettext_noop("Outbound"),
    gettext_noop("Queued"), gettext_noop("Sent"), gettext_noop("Delivered"),
    gettext_noop("Read"), gettext_noop("Failed"), gettext_noop("Online"), gettext_noop("Away"),
    gettext_noop("Email address"), gettext_noop("Phone (E.164)"),
    gettext_noop("Telegram user id"), gettext_noop("WhatsApp id"), gettext_noop("Messenger id"),
    gettext_noop("Instagram id"), gettext_noop("Widget visitor id"),
    gettext_noop("External user id"), gettext_noop("Reopened"), gettext_noop("Team changed"),
    gettext_noop("Contact"), gettext_noop("Agent"), gettext_noop("Bot"), gettext_noop("System"),
]


def _label(choices, value) -> str:
    return str(dict(choices.choices).get(value, value or "—"))


def event_line(event: TicketEvent, agent_names: dict[int, str]) -> str:
    data, kind = event.data or {}, event.type
    Type = TicketEvent.Type
    if kind == Type.CREATED:
        return _("Ticket created via %(channel)s") % {
            "channel": _label(Channel, data.get("channel"))}
    if kind == Type.ASSIGNED:
        if data.get("agent") is None:
            return _("Unassigned")
        return _("Assigned to %(agent)s") % {
            "agent": agent_names.get(data["agent"], f"#{data['agent']}")}
    if kind == Type.STATUS_CHANGED:
        return _("Status changed from %(from)s to %(to)s") % {
            "from": _label(Ticket.Status, data.get("from")),
            "to": _label(Ticket.Status, data.get("to"))}
    if kind == Type.PRIORITY_CHANGED:
        return _("Priority changed from %(from)s to %(to)s") % {
            "from": _label(Ticket.Priority, data.get("from")),
            "to": _label(Ticket.Priority, data.get("to"))}
    if kind == Type.LABELED:
        changes = [f"+{name}" for name in data.get("added", [])]
        changes += [f"−{name}" for name in data.get("removed", [])]
        return _("Labels %(changes)s") % {"changes": " ".join(changes)}
    if kind == Type.MERGED:
        return _("Contact #%(source)s merged into #%(target)s") % {
            "source": data.get("from_contact"), "target": data.get("into_contact")}
    if kind in (Type.SURVEY_SENT, Type.SURVEY_ANSWERED):
        survey = SURVEY_KINDS.get(data.get("kind"), data.get("kind") or "")
        if kind == Type.SURVEY_SENT:
            return _("%(survey)s survey sent") % {"survey": survey}
        line = _("%(survey)s survey answered: %(score)s") % {
            "survey": survey, "score": data.get("score")}
        return f"{line} — “{data['comment']}”" if data.get("comment") else line
    return str(event.get_type_display())


def event_agent_ids(events) -> set[int]:
    return {e.data["agent"] for e in events
            if e.type == TicketEvent.Type.ASSIGNED and isinstance((e.data or {}).get("agent"), int)}
