from django.urls import path

from . import api, views

urlpatterns = [
    path("api/widget/v1/session", api.SessionView.as_view(), name="widget-session"),
    path("api/widget/v1/config", views.widget_config, name="widget-config"),
    path("api/widget/v1/tickets", api.TicketsView.as_view(), name="widget-tickets"),
    path("api/widget/v1/tickets/<int:ticket_id>/messages", api.MessagesView.as_view(),
         name="widget-messages"),
    path("api/widget/v1/messages", api.SendView.as_view(), name="widget-send"),
    path("api/widget/v1/uploads", api.UploadView.as_view(), name="widget-upload"),
    path("api/widget/v1/attachments/<int:attachment_id>", api.AttachmentView.as_view(),
         name="widget-attachment"),
    path("widget.js", views.widget_js, name="widget-js"),
    path("widget-demo/", views.widget_demo, name="widget-demo"),
]
