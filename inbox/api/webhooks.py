"""Admins manage outbound webhook endpoints and read their delivery log."""

from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ..models import Inbox
from ..webhooks.models import EVENTS, WebhookDelivery, WebhookEndpoint
from .views import IsAdmin


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), required=False,
        help_text="Event names to send; empty or absent sends every event.",
    )
    inboxes = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Inbox.objects.all(), required=False
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "secret", "events", "inboxes", "is_active", "created_at"]
        read_only_fields = ["secret", "created_at"]

    def validate_url(self, url: str) -> str:
        if not url.lower().startswith(("https://", "http://")):
            raise serializers.ValidationError("Only http(s) URLs receive webhooks.")
        return url


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "payload", "status", "attempts", "response_status", "error",
                  "created_at", "delivered_at"]


class WebhookEndpointViewSet(viewsets.ModelViewSet):
    serializer_class = WebhookEndpointSerializer
    permission_classes = [permissions.IsAuthenticated, IsAdmin]
    queryset = WebhookEndpoint.objects.prefetch_related("inboxes").order_by("id")
    pagination_class = None

    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The endpoint's latest 100 deliveries, newest first."""
        deliveries = self.get_object().deliveries.order_by("-created_at")[:100]
        return Response({"results": WebhookDeliverySerializer(deliveries, many=True).data})
