"""Pages of the agent inbox. Each view validates its input, makes one selector or service
call and renders; the rules live in selectors and services."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from inbox.errors import NotFound, ServiceError
from inbox.models import Channel
from inbox.selectors import contact_get_for_agent, ticket_get_for_agent, ticket_list_for_agent
from inbox.services import contact_merge as merge_contacts
from inbox.services import AttachmentData, message_reply, ticket_update

from . import selectors, services
from .forms import ComposerForm, ListQueryForm, MergeForm, TicketUpdateForm


def _bad_request(request, message: str, errors=None, status: int = 400):
    return render(request, "desk/error.html", {"message": message, "errors": errors},
                  status=status)


def _not_found(request, error: NotFound):
    return _bad_request(request, error.message, status=404)


def _with_ticket(view):
    """Give `view` the ticket numbered in the URL, if the agent may see it; 404 otherwise."""
    @wraps(view)
    def wrapper(request, number: int):
        try:
            ticket = ticket_get_for_agent(agent=request.user, ticket_id=number)
        except NotFound as error:
            return _not_found(request, error)
        return view(request, ticket)
    return wrapper


def _list_params(request) -> tuple[dict | None, ListQueryForm]:
    form = ListQueryForm(request.GET)
    if not form.is_valid():
        return None, form
    params = form.params()
    saved_id = form.cleaned_data.get("filter")
    if saved_id:
        saved = selectors.saved_filter_get(agent=request.user, filter_id=saved_id)
        if saved is None:
            return None, form
        params = {**saved.params, **params}
    return params, form


@login_required
@require_GET
def inbox_list(request):
    params, form = _list_params(request)
    if params is None:
        return _bad_request(request, _("Invalid list filter."), form.errors)
    filters = selectors.list_filters(params=params)
    page = selectors.ticket_page(tickets=ticket_list_for_agent(agent=request.user, **filters),
                                 after=form.cleaned_data["after"])
    context = {
        "page": page, "params": params,
        "next_url": "?" + urlencode({**params, "after": page.next.encode()}) if page.next
        else None,
    }
    if request.htmx and request.htmx.target != "main":
        return render(request, "desk/_ticket_rows.html", context)
    context.update(
        # Counts arrive in a second request (/nav/), so the list never waits for them.
        nav=selectors.nav_sections(agent=request.user, with_counts=False),
        saved_filters=selectors.saved_filter_list(agent=request.user),
        active_filter=form.cleaned_data.get("filter"),
    )
    return render(request, "desk/inbox.html", context)


@login_required
@require_GET
def nav_counts(request):
    params, form = _list_params(request)
    return render(request, "desk/_nav.html", {
        "nav": selectors.nav_sections(agent=request.user),
        "saved_filters": selectors.saved_filter_list(agent=request.user),
        "params": params or {},
        "active_filter": form.cleaned_data.get("filter") if params is not None else None,
    })


@login_required
@require_GET
def ticket_row(request, number: int):
    """One list row for live updates: 204 when the ticket does not belong in the view."""
    params, form = _list_params(request)
    if params is None:
        return _bad_request(request, _("Invalid list filter."), form.errors)
    if not selectors.ticket_matches(agent=request.user, ticket_id=number, params=params):
        return HttpResponse(status=204)
    ticket = selectors.with_preview(ticket_list_for_agent(agent=request.user)).get(pk=number)
    return render(request, "desk/_ticket_row.html", {"ticket": ticket})


def _ticket_context(request, ticket) -> dict:
    default_channel, channels = selectors.reply_channels(ticket=ticket)
    return {
        "ticket": ticket,
        "window": selectors.timeline_window(ticket=ticket),
        "default_channel": default_channel,
        "channels": [(channel, Channel(channel).label) for channel in channels],
        "agents": selectors.assignable_agents(ticket=ticket),
        "labels": ", ".join(label.name for label in ticket.labels.all()),
        "contact_tickets": selectors.contact_tickets(agent=request.user, contact=ticket.contact),
        "identities": list(ticket.contact.identities.all()),
        "canned": selectors.canned_response_list(),
        "label_names": selectors.label_names(),
        "statuses": ticket.Status.choices,
        "priorities": ticket.Priority.choices,
    }


@login_required
@require_GET
@_with_ticket
def ticket_detail(request, ticket):
    services.notifications_mark_read(agent=request.user, ticket=ticket)
    return render(request, "desk/ticket.html", _ticket_context(request, ticket))


@login_required
@require_GET
@_with_ticket
def ticket_timeline(request, ticket):
    """Timeline entries after what the page shows (`after_seq`, `after_event`), or the
    window before `before_seq` ("load earlier")."""
    try:
        numbers = {key: int(request.GET[key]) for key in ("after_seq", "after_event", "before_seq")
                   if key in request.GET}
    except ValueError:
        return _bad_request(request, _("after_seq, after_event and before_seq are integers."))
    if "before_seq" in numbers:
        window = selectors.timeline_window(ticket=ticket, before_seq=numbers["before_seq"])
        return render(request, "desk/_timeline_window.html", {"window": window, "ticket": ticket})
    window = selectors.timeline_after(ticket=ticket, after_seq=numbers.get("after_seq", 0),
                                      after_event=numbers.get("after_event", 0))
    return render(request, "desk/_timeline_entries.html", {"window": window})


@login_required
@require_GET
@_with_ticket
def ticket_properties(request, ticket):
    return render(request, "desk/_properties.html", _ticket_context(request, ticket))


@login_required
@require_POST
@_with_ticket
def ticket_compose(request, ticket):
    """A reply or an internal note; htmx swaps in the new timeline entry."""
    form = ComposerForm(request.POST, request.FILES)
    if not form.is_valid():
        return _bad_request(request, _("The message was not sent."), form.errors)
    data = form.cleaned_data
    try:
        if data["kind"] == "note":
            message = services.note_post(ticket=ticket, agent=request.user, body=data["body"])
        else:
            attachments = [
                AttachmentData(name=upload.name, content=upload.read(),
                               content_type=upload.content_type or "application/octet-stream")
                for upload in data["attachments"]
            ]
            message = message_reply(ticket=ticket, agent=request.user, body=data["body"],
                                    channel=data["channel"] or None, attachments=attachments)
    except ServiceError as error:
        return _bad_request(request, error.message, error.fields)
    if not request.htmx:
        return redirect("desk:ticket", number=ticket.pk)
    window = selectors.timeline_after(ticket=ticket, after_seq=message.seq - 1,
                                      after_event=2**62)
    return render(request, "desk/_timeline_entries.html", {"window": window})


@login_required
@require_POST
@_with_ticket
def ticket_change(request, ticket):
    """Status, snooze, priority, assignee, labels; htmx swaps in the properties panel."""
    form = TicketUpdateForm(request.POST)
    if not form.is_valid():
        return _bad_request(request, _("The ticket was not changed."), form.errors)
    try:
        ticket = ticket_update(ticket=ticket, by=request.user, **form.changes(agent=request.user))
    except ServiceError as error:
        return _bad_request(request, error.message, error.fields)
    if not request.htmx:
        return redirect("desk:ticket", number=ticket.pk)
    ticket = ticket_get_for_agent(agent=request.user, ticket_id=ticket.pk)
    return render(request, "desk/_properties.html", _ticket_context(request, ticket))


@login_required
@require_GET
def contact_detail(request, contact_id: int):
    try:
        contact = contact_get_for_agent(agent=request.user, contact_id=contact_id)
    except NotFound as error:
        return _not_found(request, error)
    return render(request, "desk/contact.html", {
        "contact": contact,
        "identities": list(contact.identities.all()),
        "tickets": selectors.contact_tickets(agent=request.user, contact=contact, limit=100),
        "message_count": selectors.contact_message_count(agent=request.user, contact=contact),
        "window": selectors.contact_timeline_recent(agent=request.user, contact=contact),
        "show_ticket": True,
    })


def inbox_url(params: dict) -> str:
    return reverse("desk:inbox") + ("?" + urlencode(params) if params else "")


@login_required
@require_POST
def contact_merge(request, contact_id: int):
    """Merge another contact the agent may see into this one."""
    form = MergeForm(request.POST)
    if not form.is_valid():
        return _bad_request(request, _("Choose a contact to merge."), form.errors)
    try:
        target = contact_get_for_agent(agent=request.user, contact_id=contact_id)
        source = contact_get_for_agent(agent=request.user, contact_id=form.cleaned_data["source"])
        merge_contacts(source=source, target=target, by=request.user)
    except NotFound as error:
        return _not_found(request, error)
    except ServiceError as error:
        return _bad_request(request, error.message, error.fields)
    return redirect("desk:contact", contact_id=target.pk)
