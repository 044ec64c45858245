from django import template
from django.utils.html import format_html
from django.utils.http import urlencode

from inbox.presenters import message_payload

from ..presenters import event_line as _event_line

register = template.Library()

CHANNEL_ICONS = {
    # 24x24 outline paths; the label next to each icon names the channel for screen readers.
    "email": "M3 6h18v12H3z M3 6l9 7 9-7",
    "widget": "M4 5h16v11H9l-5 4z",
    "telegram": "M21 4L3 11l6 2 2 6 3-4 5 4z M9 13l9-7",
    "whatsapp": "M12 3a9 9 0 0 0-7.8 13.5L3 21l4.6-1.2A9 9 0 1 0 12 3z",
    "messenger": "M12 3C7 3 3 6.6 3 11c0 2.5 1.3 4.7 3.3 6.1V21l3.1-1.7c.8.2 1.7.3 2.6.3 "
                 "5 0 9-3.6 9-8s-4-8.6-9-8.6z M7 13l3-3 3 2 4-3",
    "instagram": "M4 4h16v16H4z M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8z M17 6.5v.1",
    "sms": "M7 2h10v20H7z M10 18h4",
    "note": "M5 3h10l4 4v14H5z M9 11h6 M9 15h6",
}


@register.simple_tag
def channel_icon(channel: str):
    # format_html, not a template include: a list page draws one per row.
    channel = channel if channel in CHANNEL_ICONS else "note"
    return format_html(
        '<svg class="icon icon--{}" viewBox="0 0 24 24" width="18" height="18" '
        'aria-hidden="true" focusable="false"><path d="{}" fill="none" stroke="currentColor" '
        'stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round"/></svg>',
        channel, CHANNEL_ICONS[channel])


@register.simple_tag
def event_line(event, agent_names):
    return _event_line(event, agent_names or {})


@register.filter
def payload(message) -> dict:
    """The message as the API presents it (inline images resolved, attachment URLs)."""
    return message_payload(message)


@register.simple_tag
def query(params: dict, **changes) -> str:
    """`params` with `changes` as a query string, for links that keep the current view."""
    merged = {**params, **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


@register.filter
def is_active_view(params: dict, item_params: dict) -> bool:
    keys = ("assignee", "inbox", "team", "label", "status")
    return all(str(params.get(k) or "") == str(item_params.get(k) or "") for k in keys)
