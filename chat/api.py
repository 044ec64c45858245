"""Widget REST API (`/api/widget/v1/`): the session endpoint and the fallback for clients
without a websocket. Bearer token auth; a token only ever reaches its own contact's data."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, NotFound
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.api.serializers import AttachmentSerializer
from inbox.api.views import attachment_response
from inbox.models import Attachment
from inbox.selectors import message_list

from . import services
from .presenters import visitor_message


class BearerSessionAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Malformed bearer token.")
        session = services.widget_session_get(token=header[1].decode(errors="replace"))
        if session is None:
            raise AuthenticationFailed("Invalid or expired token.")
        return (None, session)

    def authenticate_header(self, request):
        return "Bearer"


class BearerSessionScheme(OpenApiAuthenticationExtension):
    target_class = BearerSessionAuthentication
    name = "widgetBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Token from POST /api/widget/v1/session."}


class VisitorMessageSerializer(serializers.Serializer):
    """M of SPEC §4, as a visitor sees it."""

    id = serializers.IntegerField()
    ticket_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    direction = serializers.CharField()
    channel = serializers.CharField()
    author = inline_serializer("VisitorAuthor", {"type": serializers.CharField(),
                                                 "name": serializers.CharField()})
    body = serializers.CharField()
    attachments = AttachmentSerializer(many=True)
    created_at = serializers.DateTimeField()
    client_id = serializers.UUIDField(required=False)


class VisitorTicketSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    last_seq = serializers.IntegerField()
    unread = serializers.IntegerField()
    status = serializers.CharField()
    subject = serializers.CharField()
    last_activity_at = serializers.DateTimeField()


class HasWidgetSession(BasePermission):
    def has_permission(self, request, view):
        if request.auth is None:
            raise NotAuthenticated()
        return True


class WidgetView(APIView):
    authentication_classes = [BearerSessionAuthentication]
    permission_classes = [HasWidgetSession]


class UserClaimSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    hash = serializers.CharField(required=False, allow_blank=True, max_length=128)


class SessionRequestSerializer(serializers.Serializer):
    inbox = serializers.CharField(max_length=64)
    token = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    user = UserClaimSerializer(required=False, allow_null=True)


class SessionView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(request=SessionRequestSerializer, responses={201: inline_serializer(
        "WidgetSession", {"token": serializers.CharField(), "visitor_id": serializers.CharField(),
                          "expires_at": serializers.DateTimeField()})})
    def post(self, request):
        serializer = SessionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.VisitorClaim(**data["user"]) if data.get("user") else None
        session, token = services.widget_session_start(
            inbox_key=data["inbox"], token=data.get("token") or None, user=user,
            origin=request.headers.get("Origin"),
        )
        return Response({"token": token, "visitor_id": session.visitor_id,
                         "expires_at": session.expires_at.isoformat()},
                        status=status.HTTP_201_CREATED)


class TicketsView(WidgetView):
    @extend_schema(responses=inline_serializer(
        "VisitorTickets", {"results": VisitorTicketSerializer(many=True)}))
    def get(self, request):
        return Response({"results": services.visitor_ticket_summaries(session=request.auth)})


class MessagesView(WidgetView):
    @extend_schema(parameters=[OpenApiParameter("after_seq", int)], responses=inline_serializer(
        "VisitorMessages", {"results": VisitorMessageSerializer(many=True),
                            "last_seq": serializers.IntegerField()}))
    def get(self, request, ticket_id):
        ticket = services.visitor_ticket_get(session=request.auth, ticket_id=ticket_id)
        raw = request.query_params.get("after_seq", "0")
        if not raw.isdigit():
            raise serializers.ValidationError({"after_seq": ["Must be a non-negative integer."]})
        messages = message_list(ticket=ticket, after_seq=int(raw), include_notes=False)
        return Response({"results": [visitor_message(m) for m in messages],
                         "last_seq": ticket.last_seq})


class SendSerializer(serializers.Serializer):
    client_id = serializers.UUIDField()
    ticket_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    body = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                 max_length=services.MAX_BODY_CHARS)
    attachments = serializers.ListField(child=serializers.IntegerField(), required=False)


class SendView(WidgetView):
    @extend_schema(request=SendSerializer,
                   responses={200: VisitorMessageSerializer, 201: VisitorMessageSerializer})
    def post(self, request):
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message, created = services.visitor_message_send(
            session=request.auth, client_id=data["client_id"], body=data["body"],
            ticket_id=data.get("ticket_id"), attachment_ids=data.get("attachments", []),
        )
        return Response(visitor_message(message),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class UploadView(WidgetView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer(
            "WidgetUploadRequest", {"file": serializers.FileField()})},
        responses={201: inline_serializer("WidgetUpload", {
            "id": serializers.IntegerField(), "name": serializers.CharField(),
            "size": serializers.IntegerField(), "content_type": serializers.CharField()})},
    )
    def post(self, request):
        file = request.FILES.get("file")
        if file is None:
            raise serializers.ValidationError({"file": ["Attach one file as `file`."]})
        upload = services.visitor_upload(
            session=request.auth, name=file.name, content_type=file.content_type,
            content=file.read(),
        )
        return Response({"id": upload.pk, "name": upload.name, "size": upload.size,
                         "content_type": upload.content_type}, status=status.HTTP_201_CREATED)


class AttachmentView(WidgetView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, attachment_id):
        attachment = Attachment.objects.filter(
            pk=attachment_id, message__direction__in=["inbound", "outbound"],
            message__ticket__in=services.visitor_tickets(session=request.auth),
        ).first()
        if attachment is None:
            raise NotFound("Attachment not found.")
        return attachment_response(attachment)
