from django.db import migrations


def install(apps, schema_editor):
    from baton.imports.presets import PRESETS

    ImportMapping = apps.get_model("imports", "ImportMapping")
    for name, columns, options in PRESETS:
        ImportMapping.objects.update_or_create(name=name, defaults={"columns": columns, "options": options,
                                                                    "builtin": True})


class Migration(migrations.Migration):
    dependencies = [("imports", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
