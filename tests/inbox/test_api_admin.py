import pytest

from inbox.models import Agent, Inbox

pytestmark = pytest.mark.django_db


def test_admin_creates_widget_inbox_and_gets_key_and_secret(api, admin_agent, agent):
    response = api(admin_agent).post("/api/v1/inboxes/", {
        "kind": "widget", "name": "Website", "slug": "website",
        "config": {"welcome": "Hi!"}, "members": [agent.pk],
    }, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    inbox = Inbox.objects.get(slug="website")
    assert data["key"] == inbox.key and len(data["key"]) >= 20
    assert data["identity_secret"] == inbox.identity_secret and len(data["identity_secret"]) == 64
    assert data["config"] == {"welcome": "Hi!"} and data["members"] == [agent.pk]


def test_email_inbox_does_not_expose_identity_secret(api, admin_agent):
    data = api(admin_agent).post("/api/v1/inboxes/", {
        "kind": "email", "name": "Support", "slug": "support", "config": {},
    }, format="json").json()
    assert "identity_secret" not in data and data["kind"] == "email"


@pytest.mark.parametrize("payload,field", [
    ({"kind": "fax", "name": "X", "slug": "x"}, "kind"),
    ({"kind": "email", "name": "X", "slug": "not a slug"}, "slug"),
    ({"kind": "email", "name": "X", "slug": "x", "config": [1, 2]}, "config"),
    ({"kind": "email", "slug": "x"}, "name"),
])
def test_inbox_validation_errors_name_the_field(api, admin_agent, payload, field):
    response = api(admin_agent).post("/api/v1/inboxes/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Inbox.objects.count() == 0


def test_admin_creates_agent_and_team(api, admin_agent):
    client = api(admin_agent)
    inbox = client.post("/api/v1/inboxes/", {"kind": "email", "name": "S", "slug": "s"},
                        format="json").json()
    response = client.post("/api/v1/agents/", {
        "username": "lina", "email": "lina@example.com", "display_name": "Lina",
        "role": "agent", "inboxes": [inbox["id"]], "password": "a-long-passphrase-7",
    }, format="json")
    assert response.status_code == 201, response.json()
    lina = Agent.objects.get(username="lina")
    assert lina.check_password("a-long-passphrase-7") and "password" not in response.json()
    assert list(lina.inboxes.values_list("id", flat=True)) == [inbox["id"]]
    team = client.post("/api/v1/teams/", {"name": "Tier 1", "lead": lina.pk,
                                          "members": [lina.pk]}, format="json")
    assert team.status_code == 201 and team.json()["members"] == [lina.pk]
    weak = client.post("/api/v1/agents/", {"username": "x", "password": "123"}, format="json")
    assert weak.status_code == 400 and "password" in weak.json()["error"]["fields"]


def test_inbox_secrets_are_write_only_and_encrypted(api, admin_agent):
    client = api(admin_agent)
    data = client.post("/api/v1/inboxes/", {
        "kind": "email", "name": "S", "slug": "s", "config": {"smtp_host": "mx.example.com"},
        "secrets": {"smtp_password": "hunter2-very-secret"},
    }, format="json").json()
    assert "secrets" not in data and data["secret_names"] == ["smtp_password"]
    inbox = Inbox.objects.get(slug="s")
    assert "hunter2" not in inbox.secrets_encrypted
    assert inbox.secret("smtp_password") == "hunter2-very-secret"
    client.patch(f"/api/v1/inboxes/{inbox.pk}/", {"secrets": {"smtp_password": None,
                                                              "imap_password": "x"}},
                 format="json")
    inbox.refresh_from_db()
    assert (inbox.secret("smtp_password"), inbox.secret("imap_password")) == ("", "x")


def test_inbox_secret_can_name_an_environment_variable(monkeypatch, db):
    monkeypatch.setenv("SUPPORT_SMTP_PASSWORD", "from-env")
    inbox = Inbox(kind="email", config={"smtp_password": "env:SUPPORT_SMTP_PASSWORD",
                                        "from_name": "Support"})
    assert inbox.secret("smtp_password") == "from-env"
    assert inbox.secret("from_name") == ""  # plain config values are not secrets
