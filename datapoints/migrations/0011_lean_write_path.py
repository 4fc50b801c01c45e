"""A leaner write path (docs/decisions/0021): no index that another index already begins with,
no foreign-key constraints on the append-only history and meter-sample tables, and room in the
element table's pages for HOT updates (PostgreSQL)."""
import django.db.models.deletion
from django.db import migrations, models


def leave_room_for_updates(apps, schema_editor):
    # Every element write is an update of its row. With full pages PostgreSQL writes the new
    # version elsewhere and adds it to every index; with room on the page it updates in place
    # (HOT). Applies to pages written from now on (a VACUUM FULL rewrites the old ones).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE datapoints_element SET (fillfactor = 50)")


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE datapoints_element RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ('datapoints', '0010_site_defaults'),
    ]

    operations = [
        migrations.AlterField(
            model_name='element',
            name='datapoint',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='elements', to='datapoints.datapoint'),
        ),
        migrations.AlterField(
            model_name='elementchange',
            name='datapoint',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='datapoints.datapoint'),
        ),
        migrations.AlterField(
            model_name='messagelogentry',
            name='charge_point',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='datapoints.datapoint'),
        ),
        migrations.AlterField(
            model_name='metersample',
            name='charge_point',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='samples', to='datapoints.datapoint'),
        ),
        migrations.RunPython(leave_room_for_updates, fill_pages),
    ]
