from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("inbox.api.urls")),
    path("hooks/email/", include("inbox.channels.email.urls")),
    path("hooks/", include("inbox.channels.urls")),
    path("", include("chat.urls")),
    path("", include("surveys.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", include("inbox.health_urls")),
]

handler404 = "inbox.api.errors.handler404"
handler500 = "inbox.api.errors.handler500"
