"""The `baton` console script: Django's manage.py under Baton's name, so every command works."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baton.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["baton", *sys.argv[1:]])


if __name__ == "__main__":
    main()
