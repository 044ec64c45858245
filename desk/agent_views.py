"""The agent's own pages: sign-in, profile, notifications, saved filters, canned responses."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inbox.errors import NotFound, ServiceError

from . import selectors, services
from .forms import CannedResponseForm, ListQueryForm, ProfileForm, SavedFilterForm
from .views import _bad_request, _not_found, inbox_url


class LoginView(auth_views.LoginView):
    template_name = "desk/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "desk:login"


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    agent = request.user
    form = ProfileForm(request.POST or None, initial={
        "display_name": agent.display_name, "avatar_url": agent.avatar_url,
        "language": agent.language, "availability": agent.availability,
    })
    if request.method == "POST" and form.is_valid():
        services.profile_update(agent=agent, **form.cleaned_data)
        translation.activate(agent.language)
        return redirect("desk:profile")
    return render(request, "desk/profile.html", {"form": form},
                  status=400 if form.errors else 200)


@login_required
@require_GET
def notifications(request):
    return render(request, "desk/notifications.html", {
        "notifications": selectors.notification_list(agent=request.user),
    })


@login_required
@require_POST
def notifications_read(request):
    services.notifications_mark_read(agent=request.user)
    return redirect("desk:notifications")


@login_required
@require_POST
def saved_filter_save(request):
    """Save the list view in the query string under a name."""
    name_form, query = SavedFilterForm(request.POST), ListQueryForm(request.GET)
    if not (name_form.is_valid() and query.is_valid()):
        return _bad_request(request, _("The filter was not saved."),
                            {**name_form.errors, **query.errors})
    saved = services.saved_filter_save(agent=request.user, name=name_form.cleaned_data["name"],
                                       params=query.params())
    return redirect(inbox_url({"filter": saved.pk}))


@login_required
@require_POST
def saved_filter_delete(request, filter_id: int):
    try:
        services.saved_filter_delete(agent=request.user, filter_id=filter_id)
    except NotFound as error:
        return _not_found(request, error)
    return redirect(inbox_url({}))


@login_required
@require_http_methods(["GET", "POST"])
def canned_responses(request):
    form = CannedResponseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.canned_response_create(by=request.user, **form.cleaned_data)
            return redirect("desk:canned")
        except ServiceError as error:
            form.add_error(None, error.message)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse({"results": [
            {"shortcut": c.shortcut, "title": c.title, "body": c.body}
            for c in selectors.canned_response_list()]})
    return render(request, "desk/canned.html", {
        "form": form, "responses": selectors.canned_response_list(),
    }, status=400 if form.errors else 200)


@login_required
@require_POST
def canned_response_delete(request, response_id: int):
    try:
        services.canned_response_delete(by=request.user, response_id=response_id)
    except NotFound as error:
        return _not_found(request, error)
    return redirect("desk:canned")
