from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views
from .webhooks import WebhookEndpointViewSet

app_name = "api"

router = SimpleRouter()
router.register("inboxes", views.InboxViewSet, basename="inbox")
router.register("agents", views.AgentViewSet, basename="agent")
router.register("teams", views.TeamViewSet, basename="team")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("tickets/", views.TicketListView.as_view(), name="ticket-list"),
    path("tickets/<int:ticket_id>/", views.TicketDetailView.as_view(), name="ticket-detail"),
    path("tickets/<int:ticket_id>/messages/", views.TicketMessagesView.as_view(),
         name="ticket-messages"),
    path("tickets/<int:ticket_id>/timeline/", views.TicketTimelineView.as_view(),
         name="ticket-timeline"),
    path("tickets/<int:ticket_id>/assign/", views.TicketAssignView.as_view(),
         name="ticket-assign"),
    path("tickets/<int:ticket_id>/status/", views.TicketStatusView.as_view(),
         name="ticket-status"),
    path("tickets/<int:ticket_id>/labels/", views.TicketLabelsView.as_view(),
         name="ticket-labels"),
    path("contacts/", views.ContactListView.as_view(), name="contact-list"),
    path("contacts/<int:contact_id>/", views.ContactDetailView.as_view(), name="contact-detail"),
    path("contacts/<int:contact_id>/timeline/", views.ContactTimelineView.as_view(),
         name="contact-timeline"),
    path("contacts/<int:contact_id>/merge/", views.ContactMergeView.as_view(),
         name="contact-merge"),
    path("attachments/<int:attachment_id>/download/", views.AttachmentDownloadView.as_view(),
         name="attachment-download"),
    *router.urls,
]
