"""Start-up never runs on a guessable secret key.

Each test starts Django for real in a subprocess (``django.setup()`` with the
settings module) with a chosen environment, the way ``make run``, a container or
a Celery worker would start it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

SCRIPT = (
    "import hashlib, django; django.setup(); from django.conf import settings; "
    "print(hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest())"
)
# Variables that decide the outcome; every test starts from none of them.
DECIDING = (
    "DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY_FILE", "DJANGO_DEBUG", "VERIFYAI_TESTING",
    "VERIFYAI_EMBEDDED", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
)
POSTGRES = "postgres://verifyai@127.0.0.1:5432/verifyai"  # never connected to: setup only reads it
REDIS = "redis://127.0.0.1:6379/0"


def start(data_dir: Path, **variables: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if k not in DECIDING}
    environment.update(
        DJANGO_SETTINGS_MODULE="verifyai.settings", VERIFYAI_DATA_DIR=str(data_dir), **variables
    )
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=settings.BASE_DIR, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run(data_dir: Path, **variables: str) -> subprocess.CompletedProcess:
    process = start(data_dir, **variables)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.mark.parametrize(
    "production",
    [{"DATABASE_URL": POSTGRES}, {"REDIS_URL": REDIS}, {"DATABASE_URL": POSTGRES, "REDIS_URL": REDIS}],
    ids=["postgres", "redis", "both"],
)
def test_production_without_a_secret_key_refuses_to_start(tmp_path, production):
    started = run(tmp_path, **production)

    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and "DJANGO_SECRET_KEY" in started.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_with_a_secret_key_starts_on_it(tmp_path):
    key_file = tmp_path / "mounted-secret"
    key_file.write_text("a-long-random-production-key-from-the-secret-store\n")

    for variables in ({"DJANGO_SECRET_KEY": "a-long-random-production-key-from-the-secret-store"},
                      {"DJANGO_SECRET_KEY_FILE": str(key_file)}):
        started = run(tmp_path, DATABASE_URL=POSTGRES, REDIS_URL=REDIS, **variables)
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == digest("a-long-random-production-key-from-the-secret-store")
    assert not (tmp_path / "secret_key").exists()


def test_embedded_start_generates_a_private_key_file_and_reuses_it(tmp_path):
    first = run(tmp_path)
    assert first.returncode == 0, first.stderr

    key_file = tmp_path / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 50 and not key.startswith("embedded-insecure")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.stdout.strip() == digest(key)

    second = run(tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == digest(key)
    # Another data directory (another installation) gets another key.
    other = run(tmp_path / "other")
    assert other.returncode == 0 and other.stdout.strip() != digest(key)


def test_web_and_worker_starting_together_agree_on_one_key(tmp_path):
    processes = [start(tmp_path) for _ in range(6)]
    results = [process.communicate(timeout=120) for process in processes]

    assert [process.returncode for process in processes] == [0] * 6, [err for _, err in results]
    digests = {out.strip() for out, _ in results}
    assert digests == {digest((tmp_path / "secret_key").read_text().strip())}
    assert [path.name for path in tmp_path.iterdir() if "secret" in path.name] == ["secret_key"]


def test_debug_and_tests_use_the_generated_key_even_with_services(tmp_path):
    for flag in ({"DJANGO_DEBUG": "true"}, {"VERIFYAI_TESTING": "true"}):
        started = run(tmp_path, DATABASE_URL=POSTGRES, REDIS_URL=REDIS, **flag)
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == digest((tmp_path / "secret_key").read_text().strip())


def test_embedded_false_demands_a_key_even_on_embedded_defaults(tmp_path):
    started = run(tmp_path, VERIFYAI_EMBEDDED="false")

    assert started.returncode != 0 and "DJANGO_SECRET_KEY" in started.stderr
    assert not (tmp_path / "secret_key").exists()


def test_an_empty_key_file_is_refused_not_trusted(tmp_path):
    (tmp_path / "secret_key").write_text("")
    started = run(tmp_path)

    assert started.returncode != 0 and "secret_key" in started.stderr


def test_a_secret_key_file_mounted_empty_refuses_to_start_instead_of_generating_one(tmp_path):
    key_file = tmp_path / "mounted-secret"
    key_file.write_text("\n")

    started = run(tmp_path, DJANGO_SECRET_KEY_FILE=str(key_file))

    assert started.returncode != 0
    assert "DJANGO_SECRET_KEY_FILE points at an empty file" in started.stderr
    assert not (tmp_path / "secret_key").exists()
