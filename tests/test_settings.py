import datetime
import os
import subprocess
import sys

from django.utils import formats, translation


def _settings_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "PERMIT_KEY_ENCRYPTION_KEY"}
    }
    env.update(extra)
    return env


def _load_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"], env=env, capture_output=True, text=True
    )


def test_a_missing_secret_key_fails_loudly_in_production():
    proc = _load_settings(_settings_env(DEBUG="false", PERMIT_KEY_ENCRYPTION_KEY="x"))
    assert proc.returncode != 0
    assert "SECRET_KEY is not set" in proc.stderr


def test_a_missing_secret_key_is_tolerated_in_development():
    proc = _load_settings(_settings_env(DEBUG="true"))
    assert proc.returncode == 0, proc.stderr


def test_a_malformed_boolean_fails_loudly():
    proc = _load_settings(_settings_env(DEBUG="maybe"))
    assert proc.returncode != 0 and "DEBUG must be true or false" in proc.stderr


def test_vietnamese_is_the_default_and_dates_read_dd_mm_yyyy(settings):
    assert settings.LANGUAGE_CODE == "vi" and settings.TIME_ZONE == "Asia/Ho_Chi_Minh"
    day = datetime.date(2021, 9, 30)
    for lang in ("vi", "en"):
        with translation.override(lang):
            assert formats.date_format(day, "SHORT_DATE_FORMAT") == "30/09/2021"


def test_the_login_page_speaks_vietnamese(client, db):
    page = client.get("/login/").content.decode()
    assert "Đăng nhập" in page and 'lang="vi"' in page


def test_the_language_switch_turns_the_page_english(client, db):
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    page = client.get("/login/").content.decode()
    assert 'lang="en"' in page and "Sign in" in page
