from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from inbox.api.errors import error_body
from inbox.models import Inbox

WIDGET_JS = Path(__file__).resolve().parent / "static" / "chat" / "widget.js"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@require_GET
def widget_js(request):
    response = FileResponse(WIDGET_JS.open("rb"), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def business_hours_open(hours: dict, now: datetime) -> bool | None:
    """Whether `now` falls in the inbox's business hours; None when none are set.

    `hours` = {"timezone": "Asia/Jakarta", "days": {"mon": ["09:00", "17:00"], ...}}."""
    if not hours or not hours.get("days"):
        return None
    try:
        local = now.astimezone(ZoneInfo(hours.get("timezone") or "UTC"))
    except ZoneInfoNotFoundError:
        local = now
    span = hours["days"].get(DAYS[local.weekday()])
    if not span:
        return False
    return span[0] <= local.strftime("%H:%M") < span[1]


@require_GET
def widget_config(request):
    """Public settings the widget needs before a session exists (no secrets)."""
    inbox = Inbox.objects.filter(key=request.GET.get("inbox", ""), kind=Inbox.Kind.WIDGET).first()
    if inbox is None:
        response = JsonResponse(error_body("not_found", "No such widget inbox."), status=404)
    else:
        config = inbox.config
        response = JsonResponse({
            "name": inbox.name,
            "greeting": config.get("greeting", {}),
            "color": config.get("color", "#2563eb"),
            "reply_time_minutes": config.get("reply_time_minutes"),
            "open_now": business_hours_open(config.get("business_hours", {}), timezone.now()),
            "prechat_email": bool(config.get("prechat_email", False)),
            "identity_verification_required": bool(
                config.get("identity_verification_required", False)),
            "max_attachment_mb": inbox.attachment_limit_mb,
        })
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def widget_demo(request):
    """A host page for trying the widget by hand (DEBUG only): `/widget-demo/?inbox=KEY`,
    with hostile page CSS that a widget without style isolation would not survive."""
    if not settings.DEBUG:
        raise Http404
    key = request.GET.get("inbox") or Inbox.objects.filter(
        kind=Inbox.Kind.WIDGET).order_by("pk").values_list("key", flat=True).first()
    return render(request, "widget_demo.html", {
        "inbox_key": key, "locale": request.GET.get("locale", ""),
    })
