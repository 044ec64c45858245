from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """KPI reports (SPEC §7): per-ticket rollups, the KPI API, report pages, staffing."""

    name = "reports"
    verbose_name = "Reports"
