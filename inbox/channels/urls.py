from django.urls import path

from .views import provider_webhook

urlpatterns = [
    path("<str:kind>/<str:inbox_key>/", provider_webhook, name="provider-webhook"),
]
