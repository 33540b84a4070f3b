# Issue #19: a meeting's topic and host e-mail move to the region's database (MeetingDetails). The control
# columns stay, renamed in the model only (legacy_*; the database columns keep their names), until
# `manage.py move_to_regions` has moved what they hold; a later release drops them.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('rtms', '0010_routed_payloads'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField(model_name='meeting', old_name='host_email', new_name='legacy_host_email'),
                migrations.AlterField(
                    model_name='meeting',
                    name='legacy_host_email',
                    field=models.CharField(blank=True, db_column='host_email', max_length=320),
                ),
                migrations.RenameField(model_name='meeting', old_name='topic', new_name='legacy_topic'),
                migrations.AlterField(
                    model_name='meeting',
                    name='legacy_topic',
                    field=models.CharField(blank=True, db_column='topic', max_length=300),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name='meeting',
            name='host_email_domain',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name='meeting',
            name='host_email_hash',
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.CreateModel(
            name='MeetingDetails',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('meeting_id', models.BigIntegerField(unique=True)),
                ('region_code', models.CharField(max_length=63)),
                ('topic', models.CharField(blank=True, max_length=300)),
                ('host_email', models.CharField(blank=True, max_length=320)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name_plural': 'meeting details',
            },
        ),
    ]
