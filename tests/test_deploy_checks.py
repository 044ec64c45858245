import json
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


def _database_settings(**env) -> dict:
    script = ("import json; from django.conf import settings; "
              "d = settings.DATABASES['default']; "
              "print(json.dumps({'age': d['CONN_MAX_AGE'], 'pool': d['OPTIONS'].get('pool'), "
              "'options': d['OPTIONS'].get('options')}))")
    result = manage("shell", "-c", script, DJANGO_SETTINGS_MODULE="config.settings.dev",
                    DATABASE_URL="postgres://switchboard@db:5432/switchboard", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgres_connections_come_from_a_pool_unless_turned_off():
    assert _database_settings() == {
        "age": 0, "pool": {"min_size": 1, "max_size": 10, "timeout": 30},
        "options": "-c jit=off"}
    assert _database_settings(DB_POOL_MAX="4")["pool"]["max_size"] == 4
    assert _database_settings(DB_POOL_MAX="0", CONN_MAX_AGE="60") == {
        "age": 60, "pool": None, "options": "-c jit=off"}
