"""GET /api/v1/reports/kpis: admins only, SPEC §5 errors for bad parameters."""

import pytest

from tests.factories import AgentFactory, InboxFactory

from .test_kpis import UTC_REPORT

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/kpis"


def test_admin_gets_the_report(history, api, admin_agent):
    response = api(admin_agent).get(URL, {"start": "2026-01-05", "end": "2026-01-06"})
    assert response.status_code == 200
    assert response.json() == UTC_REPORT


def test_filters_and_time_zone_pass_through(history, api, admin_agent):
    response = api(admin_agent).get(URL, {"start": "2026-01-05", "end": "2026-01-06",
                                          "tz": "Asia/Jakarta", "inbox": history["chat"].pk,
                                          "agent": history["bo"].pk})
    body = response.json()
    assert response.status_code == 200
    assert body["period"]["tz"] == "Asia/Jakarta"
    # Chat tickets assigned to bo: none (W8 and W9 are unassigned).
    assert body["tickets_created"] == 0


def test_agents_and_anonymous_are_refused(history, api):
    member = AgentFactory()
    member.inboxes.add(history["chat"])
    params = {"start": "2026-01-05", "end": "2026-01-06"}
    forbidden = api(member).get(URL, params)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "permission_denied"
    assert "tickets_created" not in forbidden.json()
    assert api(None).get(URL, params).status_code in (401, 403)


@pytest.mark.parametrize(("params", "fields"), [
    ({}, {"start": ["Required (YYYY-MM-DD)."], "end": ["Required (YYYY-MM-DD)."]}),
    ({"start": "2026-02-30", "end": "2026-03-01"},
     {"start": ["'2026-02-30' is not a date (YYYY-MM-DD)."]}),
    ({"start": "2026-03-02", "end": "2026-03-01"}, {"end": ["Must not be before start."]}),
    ({"start": "2025-01-01", "end": "2026-01-02"}, {"end": ["A period covers at most 366 days."]}),
    ({"start": "2026-01-01", "end": "2026-01-02", "tz": "Mars/Olympus"},
     {"tz": ["'Mars/Olympus' is not an IANA time zone name."]}),
    ({"start": "2026-01-01", "end": "2026-01-02", "channel": "pigeon", "inbox": "x",
      "team": "999999", "agent": "-1"},
     {"channel": ["Unknown channel 'pigeon'."], "inbox": ["No inbox with id 'x'."],
      "team": ["No team with id '999999'."], "agent": ["No agent with id '-1'."]}),
])
def test_bad_parameters_are_400_with_the_error_shape(api, admin_agent, params, fields):
    InboxFactory()
    response = api(admin_agent).get(URL, params)
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid",
                                         "message": "Some report parameters are invalid.",
                                         "fields": fields}}
