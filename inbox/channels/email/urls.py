from django.urls import path

from . import views, webhooks

urlpatterns = [
    path("<str:inbox_key>/raw", views.RawEmailView.as_view(), name="email-raw"),
    path("<str:inbox_key>/mailgun", webhooks.MailgunInboundView.as_view(), name="email-mailgun"),
    path("<str:inbox_key>/sendgrid", webhooks.SendGridInboundView.as_view(),
         name="email-sendgrid"),
    path("<str:inbox_key>/postmark", webhooks.PostmarkInboundView.as_view(),
         name="email-postmark"),
]
