"""Thin API views: parse, call one selector or service, present."""

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..errors import NotFound
from ..models import Agent, Attachment, Inbox, Team
from . import serializers as s
from .pagination import KeysetPagination, MessagePagination, TicketPagination, TimelinePagination

# Image types a browser may render inline; everything else downloads.
SAFE_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file as a download, or shown inline when it is a safe image type; never
    content-sniffed by the browser (SPEC §8)."""
    inline = attachment.content_type in SAFE_INLINE_TYPES
    response = FileResponse(
        attachment.file.open("rb"), as_attachment=not inline, filename=attachment.name,
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


class IsAdmin(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_admin)


class IsAdminOrReadOnly(IsAdmin):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or super().has_permission(request, view)


def _paginate(request, queryset, serializer_class, view):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def _int_param(request, name):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit():
        raise ValidationError({name: ["Must be an integer id."]})
    return int(raw)


TICKET_FILTERS = [
    OpenApiParameter("status", description="Comma-separated statuses."),
    OpenApiParameter("inbox", int),
    OpenApiParameter("assignee", description="Agent id or email, `me` or `none`."),
    OpenApiParameter("team", int),
    OpenApiParameter("label"),
    OpenApiParameter("channel"),
    OpenApiParameter("q", description="Search subject, messages, contact name/identities."),
]


class TicketListView(APIView):
    pagination_class = TicketPagination

    @extend_schema(parameters=TICKET_FILTERS, responses=s.TicketSerializer(many=True))
    def get(self, request):
        status_param = request.query_params.get("status")
        statuses = [v for v in status_param.split(",") if v] if status_param else None
        tickets = selectors.ticket_list_for_agent(
            agent=request.user, status=statuses, inbox=_int_param(request, "inbox"),
            assignee=request.query_params.get("assignee"), team=_int_param(request, "team"),
            label=request.query_params.get("label"), channel=request.query_params.get("channel"),
            q=request.query_params.get("q"),
        )
        return _paginate(request, tickets, s.TicketSerializer, self)


class TicketDetailView(APIView):
    @extend_schema(responses=s.TicketDetailSerializer)
    def get(self, request, ticket_id):
        ticket = selectors.ticket_get_for_agent(agent=request.user, ticket_id=ticket_id)
        return Response(s.TicketDetailSerializer(ticket).data)

    @extend_schema(request=s.TicketPatchSerializer, responses=s.TicketDetailSerializer)
    def patch(self, request, ticket_id):
        ticket = selectors.ticket_get_for_agent(agent=request.user, ticket_id=ticket_id)
        changes = _validated(s.TicketPatchSerializer, request.data)
        ticket = services.ticket_update(ticket=ticket, by=request.user, **changes)
        return Response(s.TicketDetailSerializer(ticket).data)


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TicketMessagesView(APIView):
    pagination_class = MessagePagination
    @extend_schema(
        parameters=[OpenApiParameter("after_seq", int)], responses=s.MessageSerializer(many=True)
    )
    def get(self, request, ticket_id):
        ticket = selectors.ticket_get_for_agent(agent=request.user, ticket_id=ticket_id)
        messages = selectors.message_list(
            ticket=ticket, after_seq=_int_param(request, "after_seq") or 0, include_notes=True
        )
        return _paginate(request, messages, s.MessageSerializer, self)

    @extend_schema(request=s.MessageCreateSerializer, responses={201: s.MessageSerializer})
    def post(self, request, ticket_id):
        ticket = selectors.ticket_get_for_agent(agent=request.user, ticket_id=ticket_id)
        data = _validated(s.MessageCreateSerializer, request.data)
        if data["type"] == "note":
            message = services.note_add(ticket=ticket, agent=request.user, body=data["body"])
        else:
            message = services.message_reply(
                ticket=ticket, agent=request.user, body=data["body"],
                body_html=data.get("body_html", ""), channel=data.get("channel"),
            )
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class TicketTimelineView(APIView):
    @extend_schema(responses=s.TimelineEntrySerializer(many=True))
    def get(self, request, ticket_id):
        ticket = selectors.ticket_get_for_agent(agent=request.user, ticket_id=ticket_id)
        entries = selectors.ticket_timeline(ticket=ticket)
        return Response({"results": s.TimelineEntrySerializer(entries, many=True).data})


class _TicketActionView(APIView):
    """POST one change to a ticket; answers with the updated ticket."""

    serializer_class: type

    def act(self, ticket, agent, data):
        raise NotImplementedError

    def post(self, request, ticket_id):
        ticket = selectors.ticket_get_for_agent(agent=request.user, ticket_id=ticket_id)
        ticket = self.act(ticket, request.user, _validated(self.serializer_class, request.data))
        return Response(s.TicketDetailSerializer(ticket).data)


@extend_schema(request=s.AssignSerializer, responses=s.TicketDetailSerializer)
class TicketAssignView(_TicketActionView):
    serializer_class = s.AssignSerializer

    def act(self, ticket, agent, data):
        return services.ticket_assign(ticket=ticket, assignee=data["assignee"], by=agent)


@extend_schema(request=s.StatusSerializer, responses=s.TicketDetailSerializer)
class TicketStatusView(_TicketActionView):
    serializer_class = s.StatusSerializer

    def act(self, ticket, agent, data):
        return services.ticket_set_status(
            ticket=ticket, status=data["status"], snoozed_until=data.get("snoozed_until"), by=agent
        )


@extend_schema(request=s.LabelsSerializer, responses=s.TicketDetailSerializer)
class TicketLabelsView(_TicketActionView):
    serializer_class = s.LabelsSerializer

    def act(self, ticket, agent, data):
        return services.ticket_label(
            ticket=ticket, by=agent, add=data.get("add", []), remove=data.get("remove", [])
        )


class ContactListView(APIView):
    pagination_class = KeysetPagination
    @extend_schema(parameters=[OpenApiParameter("q")], responses=s.ContactSerializer(many=True))
    def get(self, request):
        contacts = selectors.contact_list_for_agent(
            agent=request.user, q=request.query_params.get("q")
        )
        return _paginate(request, contacts, s.ContactSerializer, self)


class ContactDetailView(APIView):
    @extend_schema(responses=s.ContactSerializer)
    def get(self, request, contact_id):
        contact = selectors.contact_get_for_agent(agent=request.user, contact_id=contact_id)
        return Response(s.ContactSerializer(contact).data)


class ContactTimelineView(APIView):
    pagination_class = TimelinePagination
    @extend_schema(responses=s.MessageSerializer(many=True))
    def get(self, request, contact_id):
        contact = selectors.contact_get_for_agent(agent=request.user, contact_id=contact_id)
        messages = selectors.contact_timeline(agent=request.user, contact=contact)
        return _paginate(request, messages, s.MessageSerializer, self)


class ContactMergeView(APIView):
    @extend_schema(request=s.MergeSerializer, responses=s.ContactSerializer)
    def post(self, request, contact_id):
        source = selectors.contact_get_for_agent(agent=request.user, contact_id=contact_id)
        data = _validated(s.MergeSerializer, request.data)
        target = selectors.contact_get_for_agent(agent=request.user, contact_id=data["into"])
        services.contact_merge(source=source, target=target, by=request.user)
        target.refresh_from_db()
        return Response(s.ContactSerializer(target).data)


class AttachmentDownloadView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, attachment_id):
        attachment = (
            Attachment.objects.select_related("message")
            .filter(pk=attachment_id,
                    message__ticket__in=selectors.ticket_visible_to(request.user))
            .first()
        )
        if attachment is None:
            raise NotFound("Attachment not found.")
        return attachment_response(attachment)


class InboxViewSet(viewsets.ModelViewSet):
    """Admins manage inboxes; agents list the inboxes they belong to."""

    serializer_class = s.InboxSerializer
    permission_classes = [permissions.IsAuthenticated, IsAdminOrReadOnly]
    pagination_class = None
    queryset = Inbox.objects.all()

    def get_queryset(self):
        inbox_ids = selectors.inbox_ids_for_agent(self.request.user)
        inboxes = Inbox.objects.prefetch_related("members").order_by("id")
        return inboxes if inbox_ids is None else inboxes.filter(id__in=inbox_ids)


class AgentViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                   mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.AgentSerializer
    permission_classes = [permissions.IsAuthenticated, IsAdmin]
    queryset = Agent.objects.prefetch_related("inboxes", "teams").order_by("id")
    pagination_class = None


class TeamViewSet(viewsets.ModelViewSet):
    serializer_class = s.TeamSerializer
    permission_classes = [permissions.IsAuthenticated, IsAdminOrReadOnly]
    queryset = Team.objects.prefetch_related("members").order_by("id")
    pagination_class = None
