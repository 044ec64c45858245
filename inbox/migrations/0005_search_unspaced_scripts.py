"""Search indexes that also find Chinese and Japanese words (inbox/search.py).

Characters of scripts written without spaces are spaced out before indexing, so each is a
token and a query's run of them is matched as a phrase. The expressions must stay exactly
those inbox/search.py `_document` builds, or the planner will not use them. PostgreSQL only.
On a large install, create the new indexes by hand first with CREATE INDEX CONCURRENTLY
(the IF NOT EXISTS below then skips them), and drop the old ones after.
"""

from django.db import migrations

UNSPACED = "([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])"


def _document(column: str) -> str:
    return (f"to_tsvector('simple'::regconfig, "
            f"COALESCE(regexp_replace({column}, '{UNSPACED}', ' \\1 ', 'g'), ''))")


NEW = {
    "ticket_subject_search": f"inbox_ticket USING gin ({_document('subject')})",
    "message_body_search": f"inbox_message USING gin ({_document('body_text')})",
    "contact_name_search": f"inbox_contact USING gin ({_document('name')})",
}
OLD = {
    "ticket_subject_fts": "inbox_ticket USING gin "
                          "(to_tsvector('simple'::regconfig, COALESCE(subject, '')))",
    "message_body_fts": "inbox_message USING gin "
                        "(to_tsvector('simple'::regconfig, COALESCE(body_text, '')))",
    "contact_name_fts": "inbox_contact USING gin "
                        "(to_tsvector('simple'::regconfig, COALESCE(name, '')))",
}


def _swap(schema_editor, create: dict, drop: dict) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in create.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    for name in drop:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def forwards(apps, schema_editor):
    _swap(schema_editor, NEW, OLD)


def backwards(apps, schema_editor):
    _swap(schema_editor, OLD, NEW)


class Migration(migrations.Migration):
    dependencies = [("inbox", "0004_search_indexes")]
    operations = [migrations.RunPython(forwards, backwards)]
