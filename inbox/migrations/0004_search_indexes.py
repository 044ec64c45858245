"""Full-text search indexes, replaced by those of 0005. PostgreSQL only.

The expressions must stay exactly those Django writes for SearchVector(field,
config="simple"), or the planner will not use them. On a large existing install, create
them by hand with CREATE INDEX CONCURRENTLY before migrating to avoid locking writes; the
IF NOT EXISTS below then skips them.
"""

from django.db import migrations

INDEXES = {
    "ticket_subject_fts": "inbox_ticket USING gin "
                          "(to_tsvector('simple'::regconfig, COALESCE(subject, '')))",
    "message_body_fts": "inbox_message USING gin "
                        "(to_tsvector('simple'::regconfig, COALESCE(body_text, '')))",
    "contact_name_fts": "inbox_contact USING gin "
                        "(to_tsvector('simple'::regconfig, COALESCE(name, '')))",
    "identity_value_prefix": "inbox_contactidentity (value varchar_pattern_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("inbox", "0003_outbound_webhooks")]
    operations = [migrations.RunPython(create, drop)]
