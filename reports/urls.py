from django.urls import path, re_path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("comments/", views.comments, name="comments"),
    path("staffing/", views.staffing, name="staffing"),
    re_path(r"^export/(?P<table>channel|agent|team|inbox|day|comments|staffing)\.csv$",
            views.export_csv, name="export"),
]
