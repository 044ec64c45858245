import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **env}, timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-0123456789",
        DATABASE_URL="postgres://switchboard@db:5432/switchboard",
        REDIS_URL="redis://redis:6379/0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_postgres_and_redis():
    result = manage(
        "check", DJANGO_SETTINGS_MODULE="config.settings.production", SECRET_KEY="s" * 50,
        DATABASE_URL="", REDIS_URL="",
    )
    assert result.returncode != 0
    assert "Production needs DATABASE_URL pointing at PostgreSQL." in result.stderr


def test_no_migrations_are_missing():
    result = manage("makemigrations", "--check", "--dry-run",
                    DJANGO_SETTINGS_MODULE="config.settings.test")
    assert result.returncode == 0, result.stdout + result.stderr
