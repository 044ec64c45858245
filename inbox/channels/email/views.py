from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ...models import Inbox
from .ingest import email_ingest
from .models import QuarantinedEmail

STATUS_CODES = {"ingested": 201, "auto_reply": 201, "duplicate": 200, "quarantined": 202}


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The message is larger than this server accepts."


class RawMimeParser(BaseParser):
    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return b""
        limit = settings.EMAIL_RAW_MAX_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge()
        return raw


RAW_EMAIL_RESULT = inline_serializer("RawEmailResult", {
    "status": serializers.ChoiceField(choices=list(STATUS_CODES)),
    "message_id": serializers.IntegerField(allow_null=True),
    "ticket_id": serializers.IntegerField(allow_null=True),
    "error": serializers.CharField(),
})


@extend_schema(
    summary="Deliver one raw RFC 5322 message (for MTAs: pipe a message with curl)",
    request={"message/rfc822": bytes},
    responses={code: OpenApiResponse(RAW_EMAIL_RESULT) for code in (200, 201, 202)},
)
class RawEmailView(APIView):
    """`POST /hooks/email/<inbox-key>/raw` with `Authorization: Token <key>` of an admin or
    a member of the inbox. Malformed mail is quarantined (202), never refused."""

    authentication_classes = [TokenAuthentication]
    parser_classes = [RawMimeParser]

    def post(self, request, inbox_key):
        inbox = Inbox.objects.filter(key=inbox_key, kind=Inbox.Kind.EMAIL).first()
        user = request.user
        if inbox is None or not (user.is_admin or inbox.members.filter(pk=user.pk).exists()):
            raise NotFound("No such email inbox.")
        raw = request.data
        if not raw:
            raise ParseError("The request body must be one raw email message.")
        outcome = email_ingest(inbox=inbox, raw=raw, source=QuarantinedEmail.Source.HTTP)
        return Response(
            {
                "status": outcome.status,
                "message_id": outcome.message.pk if outcome.message else None,
                "ticket_id": outcome.message.ticket_id if outcome.message else None,
                "error": outcome.error,
            },
            status=STATUS_CODES[outcome.status],
        )
