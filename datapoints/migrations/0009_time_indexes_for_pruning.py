"""Indexes for the hourly retention prune (datapoints/retention.py): element history by change time
and meter rollups by minute. On PostgreSQL both are BRIN (rows arrive in time order; a BRIN index
costs next to nothing per row, see 0006), elsewhere b-trees; outside the model state, so Django does
not try to manage a backend-specific index."""
from django.db import migrations

INDEXES = (("ElementChange", "datapoints_elementchange_changed_at", "changed_at"), ("MeterRollup", "datapoints_meterrollup_minute", "minute"))


def create_indexes(apps, schema_editor):
    using = "USING brin " if schema_editor.connection.vendor == "postgresql" else ""
    for model, name, column in INDEXES:
        table = apps.get_model("datapoints", model)._meta.db_table
        schema_editor.execute(f"CREATE INDEX {name} ON {table} {using}({column})")


def drop_indexes(apps, schema_editor):
    for _model, name, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("datapoints", "0008_open_transactions_by_tag")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
