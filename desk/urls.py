from django.urls import path

from . import agent_views, views

app_name = "desk"

urlpatterns = [
    path("", views.inbox_list, name="inbox"),
    path("login/", agent_views.LoginView.as_view(), name="login"),
    path("logout/", agent_views.LogoutView.as_view(), name="logout"),
    path("nav/", views.nav_counts, name="nav"),
    path("tickets/<int:number>/", views.ticket_detail, name="ticket"),
    path("tickets/<int:number>/row/", views.ticket_row, name="ticket-row"),
    path("tickets/<int:number>/timeline/", views.ticket_timeline, name="ticket-timeline"),
    path("tickets/<int:number>/properties/", views.ticket_properties, name="ticket-properties"),
    path("tickets/<int:number>/compose/", views.ticket_compose, name="ticket-compose"),
    path("tickets/<int:number>/change/", views.ticket_change, name="ticket-change"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact"),
    path("contacts/<int:contact_id>/merge/", views.contact_merge, name="contact-merge"),
    path("profile/", agent_views.profile, name="profile"),
    path("notifications/", agent_views.notifications, name="notifications"),
    path("notifications/read/", agent_views.notifications_read, name="notifications-read"),
    path("filters/", agent_views.saved_filter_save, name="filter-save"),
    path("filters/<int:filter_id>/delete/", agent_views.saved_filter_delete, name="filter-delete"),
    path("canned/", agent_views.canned_responses, name="canned"),
    path("canned/<int:response_id>/delete/", agent_views.canned_response_delete,
         name="canned-delete"),
]
