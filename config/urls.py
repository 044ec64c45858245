from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from inbox.media_links import media_link_serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/reports/", include("reports.urls_api")),
    path("reports/", include("reports.urls")),
    path("api/v1/", include("inbox.api.urls")),
    path("hooks/email/", include("inbox.channels.email.urls")),
    path("hooks/", include("inbox.channels.urls")),
    path("", include("chat.urls")),
    path("", include("surveys.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", include("inbox.health_urls")),
    path("media/<str:token>/<str:name>", media_link_serve, name="media-link"),
    # The agent inbox at the site root: /, /login/, /tickets/<number>/... (desk/urls.py).
    path("", include("desk.urls")),
]

handler404 = "inbox.api.errors.handler404"
handler500 = "inbox.api.errors.handler500"
