"""Language choice: user setting, then cookie, then Accept-Language, then English."""

import re

import pytest

from tests.conftest import csrf_token

HTML_LANG = re.compile(r'<html lang="([^"]+)">')


def html_lang(response) -> str:
    return HTML_LANG.search(response.get_data(as_text=True)).group(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-HK", "zh-Hant-HK"),
        ("zh-TW", "zh-Hant-HK"),
        ("zh-HK,zh;q=0.9,en;q=0.8", "zh-Hant-HK"),
        ("yue", "zh-Hant-HK"),
        ("en-GB", "en"),
        ("fr", "en"),
        ("fr-CA,zh-HK;q=0.5", "zh-Hant-HK"),
        ("en;q=0.9,zh-HK", "zh-Hant-HK"),
        ("", "en"),
        ("!!garbage;;q=x", "en"),
    ],
)
def test_accept_language_picks_a_supported_locale(client, header, expected):
    response = client.get("/", headers={"Accept-Language": header})
    assert response.status_code == 200
    assert html_lang(response) == expected


def test_language_switch_works_without_javascript_and_beats_the_header(client):
    page = client.get("/?q=1", headers={"Accept-Language": "en"})
    response = client.post(
        "/language",
        data={"csrf_token": csrf_token(page), "locale": "zh_Hant_HK", "next": "/?q=1"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/?q=1"
    again = client.get("/", headers={"Accept-Language": "en"})
    assert html_lang(again) == "zh-Hant-HK"
    assert "首頁" in again.get_data(as_text=True)
    # The switch now offers English, written in English.
    assert '<button type="submit" lang="en">English</button>' in again.get_data(as_text=True)


def test_language_switch_refuses_unknown_language_with_a_translated_page(client):
    page = client.get("/", headers={"Accept-Language": "zh-HK"})
    response = client.post(
        "/language",
        data={"csrf_token": csrf_token(page), "locale": "xx_YY"},
        headers={"Accept-Language": "zh-HK"},
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "請求有誤" in body and "暫時未提供呢種語言" in body


def test_language_switch_never_redirects_off_site(client):
    page = client.get("/")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            "/language", data={"csrf_token": csrf_token(page), "locale": "en", "next": target}
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/"


def test_unknown_page_is_a_friendly_translated_404(client):
    response = client.get("/no-such-page", headers={"Accept-Language": "zh-HK"})
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "搵唔到呢頁" in body
    assert '<html lang="zh-Hant-HK">' in body
    assert "返回首頁" in body


def test_bad_query_parameters_do_not_break_the_home_page(client):
    response = client.get("/?page=-1&lang=%00%ff&chapter=' OR 1=1--")
    assert response.status_code == 200
