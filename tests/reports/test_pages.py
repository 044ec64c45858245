"""Report pages: admins only, readable figures, CSV exports, bad input → 400 page."""

import csv
import io
from datetime import UTC, datetime

import pytest

from inbox.models import Ticket
from surveys.models import Invitation, RecoveryTask
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db
PERIOD = {"start": "2026-01-05", "end": "2026-01-06"}


@pytest.fixture
def admin_client(client, admin_agent):
    client.force_login(admin_agent)
    return client


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_overview_shows_tiles_changes_charts_and_tables(history, admin_client):
    response = admin_client.get("/reports/", PERIOD)
    assert response.status_code == 200
    page = response.content.decode()
    # Tiles: FCR 50.0%, first response median 20 min, backlog 5; the previous period
    # (01-03..01-04) resolved nothing, so FCR has no change figure.
    assert "50.0%" in page and "20 min" in page
    assert "before: 2" in page  # backlog at the end of 01-04: E7 and E10
    assert page.count('role="img"') == 8  # six over time, two by channel
    assert "<title id=\"chart-backlog\">Backlog</title>" in page
    assert "ana" in page and "bo" in page and "Billing" in page
    assert 'href="/reports/export/agent.csv?start=2026-01-05&amp;end=2026-01-06"' in page


def test_overview_defaults_to_the_last_28_days(history, admin_client):
    response = admin_client.get("/reports/")
    assert response.status_code == 200
    assert response.context["query"].period.days.__len__() == 28


def test_agents_get_403_and_anonymous_users_the_login(history, client):
    client.force_login(AgentFactory())
    for path in ("/reports/", "/reports/comments/", "/reports/staffing/",
                 "/reports/export/agent.csv"):
        assert client.get(path, PERIOD).status_code == 403
    client.logout()
    response = client.get("/reports/", PERIOD)
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("params", [
    {"start": "2026-01-06", "end": "2026-01-05"}, {"start": "nope", "end": "2026-01-05"},
    {**PERIOD, "tz": "Nowhere/City"}, {**PERIOD, "agent": "abc"},
])
def test_bad_settings_give_a_400_page_with_the_reason(history, admin_client, params):
    response = admin_client.get("/reports/", params)
    assert response.status_code == 400
    assert "Check the report settings" in response.content.decode()


def test_agent_table_csv_has_the_exact_figures(history, admin_client):
    response = admin_client.get("/reports/export/agent.csv", PERIOD)
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="agent-2026-01-05-2026-01-06.csv"')
    rows = rows_of(response)
    assert rows[0] == ["agent", "name", "tickets_created", "tickets_resolved", "fcr_rate",
                       "first_response_median_s", "first_response_p90_s",
                       "resolution_median_s", "reopen_rate", "csat_score", "csat_answers",
                       "nps_score", "ces_mean"]
    by_name = {row[1]: row[2:] for row in rows[1:]}
    # ana: E2 and E3. CSAT 5 and 3 → 50; NPS 10 and 7 → 50; CES 2.
    assert by_name["ana"] == ["2", "2", "0.5", "2700.0", "3420.0", "9000.0", "0.0", "50.0",
                              "2", "50.0", "2.0"]
    # Unassigned: E1 W5 W6 W8 W9.
    assert by_name["Unassigned"][:3] == ["5", "1", ""]


def test_day_and_channel_csv(history, admin_client):
    days = rows_of(admin_client.get("/reports/export/day.csv", PERIOD))
    assert [row[:4] for row in days[1:]] == [["2026-01-05", "2026-01-05", "6", "4"],
                                             ["2026-01-06", "2026-01-06", "2", "1"]]
    channels = rows_of(admin_client.get("/reports/export/channel.csv", PERIOD))
    # Sorted by name.
    assert [row[:5] for row in channels[1:]] == [["widget", "Chat widget", "4", "0", ""],
                                                 ["email", "Email", "4", "5", "0.5"]]


def test_comments_filter_by_score(history, admin_client):
    page = admin_client.get("/reports/comments/", PERIOD).content.decode()
    assert "Better now" in page
    assert "Better now" not in admin_client.get(
        "/reports/comments/", {**PERIOD, "score": "2"}).content.decode()
    rows = rows_of(admin_client.get("/reports/export/comments.csv",
                                    {**PERIOD, "kind": "csat", "score": "3"}))
    e3 = Ticket.objects.get(external_id="E3")
    assert rows[1:] == [[str(e3.pk), "E3", "csat", "3", "Better now", rows[1][5]]]
    assert rows[1][5].startswith("2026-01-06 08:00:00")
    assert admin_client.get("/reports/comments/", {**PERIOD, "score": "11"}).status_code == 400


def test_staffing_page_and_csv(history, admin_client):
    params = {**PERIOD, "handle_seconds": "3600", "target_percent": "80",
              "target_seconds": "60"}
    response = admin_client.get("/reports/staffing/", params)
    assert response.status_code == 200
    rows = rows_of(admin_client.get("/reports/export/staffing.csv", params))
    assert rows[0] == ["hour", "arrivals", "traffic", "agents", "service_level",
                       "average_wait_s", "occupancy"]
    # 09:00 UTC: E1 E2 E4 W8 on 01-05 → 2 per hour over the 2 days; 1 h each = 2 Erlangs.
    nine = rows[10]
    assert nine[:4] == ["09:00", "2.0", "2.0", "4"]
    assert rows[1][:4] == ["00:00", "0.0", "0.0", "0"]
    bad = admin_client.get("/reports/staffing/", {**params, "target_percent": "100"})
    assert bad.status_code == 400


def test_recovery_counts_follow_the_filters(history, admin_client):
    e3 = Ticket.objects.get(external_id="E3")
    when = datetime(2026, 1, 5, 14, tzinfo=UTC)
    for status in ("open", "open", "resolved"):
        invitation = Invitation.objects.create(ticket=e3, contact=e3.contact, kind="csat",
                                               trigger="resolved")
        RecoveryTask.objects.create(invitation=invitation, ticket=e3, kind="csat", score=2,
                                    status=status, created_at=when)
    page = admin_client.get("/reports/", PERIOD)
    assert page.context["recovery"] == {"open": 2, "contacted": 0, "resolved": 1}
    chat = admin_client.get("/reports/", {**PERIOD, "inbox": history["chat"].pk})
    assert chat.context["recovery"] == {"open": 0, "contacted": 0, "resolved": 0}


@pytest.mark.parametrize(("language", "words"), [
    ("id", ["Penyelesaian pada kontak pertama", "Tumpukan", "Unduh CSV"]),
    ("zh-hans", ["首次联系解决率", "积压", "下载 CSV"]),
])
def test_pages_speak_the_admins_language(history, client, admin_agent, language, words):
    admin_agent.language = language
    admin_agent.save(update_fields=["language"])
    client.force_login(admin_agent)
    page = client.get("/reports/", PERIOD).content.decode()
    assert all(word in page for word in words)
    staffing = client.get("/reports/staffing/", PERIOD).content.decode()
    assert {"id": "Agen dibutuhkan", "zh-hans": "所需客服"}[language] in staffing


@pytest.mark.parametrize(("path", "params", "field", "reason"), [
    ("/reports/comments/", {"kind": "sus"}, "kind", "Choose CSAT, NPS or CES."),
    ("/reports/export/comments.csv", {"kind": "sus"}, "kind", "Choose CSAT, NPS or CES."),
    ("/reports/comments/", {"score": "-1"}, "score", "A score is a whole number from 0 to 10."),
    ("/reports/staffing/", {"handle_seconds": "abc"}, "handle_seconds",
     "Enter a number from 1 to 86400."),
    ("/reports/staffing/", {"target_seconds": "nan"}, "target_seconds",
     "Enter a number from 0 to 86400."),
    ("/reports/export/staffing.csv", {"target_percent": "0"}, "target_percent",
     "Enter a number from 1 to 99.9."),
])
def test_bad_comment_and_staffing_inputs_give_a_400_page_naming_the_field(
        history, admin_client, path, params, field, reason):
    response = admin_client.get(path, {**PERIOD, **params})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert f"<strong>{field}</strong>: {reason}" in response.content.decode()
