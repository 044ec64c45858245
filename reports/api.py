"""`GET /api/v1/reports/kpis` (SPEC §7): admins only."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from inbox.api.views import IsAdmin

from .kpis import kpi_report
from .params import kpi_query_parse

KPI_PARAMETERS = [
    OpenApiParameter("start", str, required=True, description="First day, YYYY-MM-DD."),
    OpenApiParameter("end", str, required=True, description="Last day (inclusive), YYYY-MM-DD."),
    OpenApiParameter("tz", str, description="IANA time zone of the days (default UTC)."),
    OpenApiParameter("inbox", int),
    OpenApiParameter("channel", str),
    OpenApiParameter("team", int),
    OpenApiParameter("agent", int, description="Tickets assigned to this agent."),
]


class KpiReportView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(parameters=KPI_PARAMETERS, responses={200: dict})
    def get(self, request):
        return Response(kpi_report(query=kpi_query_parse(params=request.query_params)))
