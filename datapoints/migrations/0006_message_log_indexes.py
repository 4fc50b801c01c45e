"""The message log's indexes: every row of a busy server goes through them (docs/decisions/0006).

Kept: (charge_point, at), for a charger's frames. Dropped: (action, at), rarely searched alone.
(at), for pruning and time searches, becomes BRIN on PostgreSQL: rows arrive in time order, and a
BRIN index costs next to nothing per row; elsewhere it stays a b-tree (outside the model state, so
Django does not try to manage a backend-specific index)."""
from django.db import migrations

INDEX = "datapoints_messagelog_at"


def create_at_index(apps, schema_editor):
    table = apps.get_model("datapoints", "MessageLogEntry")._meta.db_table
    using = "USING brin " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"CREATE INDEX {INDEX} ON {table} {using}(at)")


def drop_at_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("datapoints", "0005_sites_audit_message_log")]

    operations = [
        migrations.RemoveIndex(model_name="messagelogentry", name="datapoints__at_dd4574_idx"),
        migrations.RemoveIndex(model_name="messagelogentry", name="datapoints__action_6fd96d_idx"),
        migrations.RunPython(create_at_index, drop_at_index),
        migrations.AlterModelOptions(name="messagelogentry", options={"ordering": ["-id"]}),
    ]
