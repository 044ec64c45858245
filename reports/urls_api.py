from django.urls import path

from .api import KpiReportView

urlpatterns = [path("kpis", KpiReportView.as_view(), name="reports-kpis")]
