from django.utils.translation import gettext_lazy as _

from .selectors import notification_unread_count

# Strings desk.js shows, translated on the server.
DESK_I18N = {
    "typing": _("The customer is typing…"),
    "agentTyping": _("is typing…"),
    "viewing": _("Also viewing:"),
    "replying": _("is replying"),
    "collision": _("is also replying to this ticket. Send anyway?"),
    "mentioned": _("mentioned you on"),
    "newTicket": _("New ticket"),
    "newMessage": _("New message on"),
    "offline": _("Live updates paused; reconnecting…"),
    "error": _("Something went wrong."),
}


def desk(request) -> dict:
    """The nav's unread mention count and desk.js's strings, for signed-in agents."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": lambda: notification_unread_count(agent=user),
            "desk_i18n": DESK_I18N}
