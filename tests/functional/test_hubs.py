"""Chapters, the hub directory, hub pages, joining and leaving."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from community.events.models import Audience
from community.extensions import db
from community.factories import (
    make_chapter,
    make_coordinator,
    make_event,
    make_hub,
    make_membership,
    make_update,
    make_user,
)
from community.hubs.models import (
    HubStatus,
    HubVisibility,
    JoinPolicy,
    MemberRole,
    Membership,
    MembershipStatus,
)
from community.updates.models import UpdateAudience
from tests.conftest import csrf_token, sign_in


def join(client, slug, answer=""):
    page = client.get(f"/hubs/{slug}")
    return client.post(f"/hubs/{slug}/join",
                       data={"csrf_token": csrf_token(page), "answer": answer})


def membership(user, hub):
    return db.session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.hub_id == hub.id))


def test_directory_searches_names_and_cities_in_both_languages(client):
    uk = make_chapter("uk", name_en="United Kingdom", name_zh="英國")
    au = make_chapter("au", name_en="Australia", name_zh="澳洲")
    make_hub(uk, "london", name_en="Hongkongers in London", name_zh="倫敦香港人",
             city_en="London", city_zh="倫敦")
    make_hub(au, "sydney", name_en="Hongkongers in Sydney", name_zh="悉尼香港人",
             city_en="Sydney", city_zh="悉尼")
    make_hub(uk, "hidden", name_en="Hidden London circle", visibility=HubVisibility.UNLISTED)

    everything = client.get("/hubs").get_data(as_text=True)
    assert "Hongkongers in London" in everything and "Hongkongers in Sydney" in everything
    assert "Hidden London circle" not in everything
    by_city = client.get("/hubs", query_string={"q": "倫敦"}).get_data(as_text=True)
    assert "Hongkongers in London" in by_city and "Sydney" not in by_city
    by_chapter = client.get("/hubs", query_string={"chapter": "au"}).get_data(as_text=True)
    assert "Hongkongers in Sydney" in by_chapter and "Hongkongers in London" not in by_chapter
    assert "Hidden" not in client.get("/hubs", query_string={"q": "hidden"}).get_data(
        as_text=True)


@pytest.mark.parametrize("query", [
    {"page": "-3"}, {"page": "abc"}, {"page": "99999999999"}, {"chapter": "zz"},
    {"q": "' OR 1=1 --"}, {"q": "%_\\"}, {"q": "x" * 5000},
])
def test_directory_survives_bad_parameters(client, query):
    make_hub()
    assert client.get("/hubs", query_string=query).status_code == 200


def test_directory_paginates(client):
    chapter = make_chapter()
    for n in range(25):
        make_hub(chapter, f"page-hub-{n:02d}", name_en=f"Page hub {n:02d}")
    first = client.get("/hubs").get_data(as_text=True)
    second = client.get("/hubs", query_string={"page": 2}).get_data(as_text=True)
    assert "Page hub 00" in first and "Page hub 24" not in first
    assert "Page hub 24" in second and "Page 2 of 2" in second


def test_chapter_page_shows_hubs_public_events_updates_and_coordinators(client):
    chapter = make_chapter("ca", name_en="Canada", name_zh="加拿大")
    hub = make_hub(chapter, "toronto")
    make_hub(chapter, "secret", name_en="Secret hub", visibility=HubVisibility.UNLISTED)
    make_event(hub, title_en="MARKER-public")
    make_event(hub, title_en="MARKER-members", audience=Audience.MEMBERS)
    make_update(chapter=chapter, title_en="Chapter news")
    make_coordinator(make_user(display_name="Coordinator Kit"), chapter)
    body = client.get("/chapters/ca").get_data(as_text=True)
    assert "MARKER-public" in body and "MARKER-members" not in body
    assert "Secret hub" not in body
    assert "Chapter news" in body and "Coordinator Kit" in body
    assert client.get("/chapters/nope").status_code == 404


def test_hub_page_falls_back_and_marks_the_other_language(client):
    make_hub(slug="en-only", name_en="English only hub", name_zh="")
    body = client.get("/hubs/en-only", headers={"Accept-Language": "zh-HK"}).get_data(
        as_text=True)
    assert '<h1 lang="en">English only hub</h1>' in body
    assert "只有英文版本" in body  # names the language shown (issue 15)


def test_hub_page_shows_a_count_not_a_member_list(client):
    hub = make_hub(slug="counted")
    for n in range(3):
        make_membership(make_user(display_name=f"Secret member {n}"), hub)
    body = client.get("/hubs/counted").get_data(as_text=True)
    assert "3 members" in body
    assert "Secret member" not in body


def test_open_hub_joins_at_once_and_member_can_leave(client):
    hub = make_hub(slug="open-hub", join_policy=JoinPolicy.OPEN)
    user = make_user("joiner@example.org")
    sign_in(client, "joiner@example.org")
    assert join(client, "open-hub").status_code == 302
    assert membership(user, hub).status is MembershipStatus.ACTIVE
    page = client.get("/hubs/open-hub")
    assert "You are a member of this hub." in page.get_data(as_text=True)
    client.post("/hubs/open-hub/leave", data={"csrf_token": csrf_token(page), "confirm": "yes"})
    assert membership(user, hub) is None


def test_approval_hub_creates_a_pending_request_with_the_answer(client):
    hub = make_hub(slug="ask-hub", join_policy=JoinPolicy.APPROVAL,
                   join_question="How did you hear about us?")
    user = make_user("asker@example.org")
    sign_in(client, "asker@example.org")
    assert "How did you hear about us?" in client.get("/hubs/ask-hub").get_data(as_text=True)
    join(client, "ask-hub", "From a friend")
    found = membership(user, hub)
    assert found.status is MembershipStatus.PENDING and found.join_answer == "From a friend"
    assert "waiting for the organisers" in client.get("/hubs/ask-hub").get_data(as_text=True)


def test_invite_only_hub_refuses_a_plain_join(client):
    hub = make_hub(slug="invite-hub", join_policy=JoinPolicy.INVITE)
    user = make_user("uninvited@example.org")
    sign_in(client, "uninvited@example.org")
    response = join(client, "invite-hub")
    assert response.status_code == 302
    assert membership(user, hub) is None
    assert "by invitation only" in client.get("/hubs/invite-hub").get_data(as_text=True)


def test_unverified_member_cannot_join(client):
    hub = make_hub(slug="verify-first")
    user = make_user("unverified@example.org", verified=False)
    sign_in(client, "unverified@example.org")
    join(client, "verify-first")
    assert membership(user, hub) is None


def test_overlong_join_answer_is_refused_with_a_message(client):
    hub = make_hub(slug="long-answer", join_policy=JoinPolicy.APPROVAL, join_question="Why?")
    user = make_user("long@example.org")
    sign_in(client, "long@example.org")
    join(client, "long-answer", "x" * 1001)
    assert membership(user, hub) is None
    assert "Use at most 1000 characters." in client.get("/hubs/long-answer").get_data(
        as_text=True)


def test_last_lead_cannot_leave(client):
    hub = make_hub(slug="lead-hub")
    lead = make_user("onlylead@example.org")
    make_membership(lead, hub, MemberRole.LEAD)
    sign_in(client, "onlylead@example.org")
    page = client.get("/hubs/lead-hub")
    client.post("/hubs/lead-hub/leave", data={"csrf_token": csrf_token(page), "confirm": "yes"})
    assert membership(lead, hub) is not None


def test_r6_member_list_shows_only_members_who_opted_in(client):
    hub = make_hub(slug="listed")
    make_membership(make_user(display_name="Shy Wong"), hub)
    make_membership(make_user(display_name="Open Chan"), hub, listed_to_members=True)
    me = make_user("me-r6@example.org")
    make_membership(me, hub)
    sign_in(client, "me-r6@example.org")
    page = client.get("/hubs/listed/members")
    body = page.get_data(as_text=True)
    assert "Open Chan" in body and "Shy Wong" not in body
    client.post("/hubs/listed/members", data={"csrf_token": csrf_token(page), "listed": "y"})
    assert membership(me, hub).listed_to_members is True


def test_members_only_updates_and_events_only_for_members(client):
    hub = make_hub(slug="news-hub")
    make_update(hub, title_en="MARKER-public-update")
    make_update(hub, title_en="MARKER-members-update", audience=UpdateAudience.MEMBERS)
    make_event(hub, title_en="MARKER-members-event", audience=Audience.MEMBERS)
    visitor = client.get("/hubs/news-hub").get_data(as_text=True)
    assert "MARKER-public-update" in visitor
    assert "MARKER-members-update" not in visitor and "MARKER-members-event" not in visitor
    make_membership(make_user("news@example.org"), hub)
    sign_in(client, "news@example.org")
    member = client.get("/hubs/news-hub").get_data(as_text=True)
    assert "MARKER-members-update" in member and "MARKER-members-event" in member


def test_r4_unlisted_hub_never_appears_in_public_pages(client):
    chapter = make_chapter("tw")
    hub = make_hub(chapter, "quiet-circle", name_en="MARKER-unlisted-hub",
                   visibility=HubVisibility.UNLISTED)
    make_event(hub, title_en="MARKER-unlisted-event")
    for path in ("/", "/hubs", "/hubs?q=MARKER", "/chapters/tw"):
        body = client.get(path).get_data(as_text=True)
        assert "MARKER-unlisted" not in body, path


def masked(response) -> str:
    """The body with tokens and echoed paths (form values) removed."""
    return re.sub(r'value="[^"]*"', 'value=""', response.get_data(as_text=True))


def test_r8_hidden_hub_answers_exactly_like_a_missing_one(client):
    make_hub(slug="hidden-one", visibility=HubVisibility.UNLISTED)
    make_hub(slug="pending-one", status=HubStatus.PENDING)
    missing = client.get("/hubs/missing-one")
    assert missing.status_code == 404
    for slug in ("hidden-one", "pending-one"):
        hidden = client.get(f"/hubs/{slug}")
        assert hidden.status_code == 404
        assert masked(hidden) == masked(missing)


@pytest.mark.parametrize("path", ["/hubs/%00", "/chapters/%00", "/events/%00x",
                                  "/hubs/a%00b/members"])
def test_nul_in_a_path_is_a_plain_404(client, path):
    assert client.get(path).status_code == 404
