"""Post as the hub (issue 16, item 4; DESIGN §2 rule 11).

A hub's updates and events appear as from the hub: no page, feed, calendar or
email names the organiser who wrote them, unless the hub chooses to show
authors. The hub's audit log still says who did it. The high-risk preset
hides authors; a hub may name them again.
"""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.events.models import Event
from community.extensions import db
from community.factories import make_chapter, make_hub, make_membership, make_user
from community.hubs.models import MemberRole, Membership
from community.hubs.settings import services as settings_services
from community.updates.models import Comment, Update
from tests.conftest import csrf_token, login_as, outbox, run_fan_outs

ORGANISER_NAME = "Wing Organiser"
ORGANISER_EMAIL = "wing.organiser@posts.example"


@pytest.fixture
def world():
    chapter = make_chapter("ph")
    hub = make_hub(chapter, "voice-hub", name_en="Voice Hub")
    lead = make_user(ORGANISER_EMAIL, display_name=ORGANISER_NAME,
                     totp_secret=pyotp.random_base32())
    reader = make_user("reader@posts.example", display_name="Reader")
    make_membership(lead, hub, MemberRole.LEAD)
    make_membership(reader, hub)
    return {"hub": hub, "lead": lead, "reader": reader}


def signed_in(app, user=None):
    client = app.test_client()
    if user is not None:
        login_as(client, user)
    return client


def publish_update(client, **extra) -> Update:
    url = "/hubs/voice-hub/updates/new"
    data = {"csrf_token": csrf_token(client.get(url)), "title_en": "Picnic news",
            "title_zh": "野餐消息", "body_en": "Bring food.", "body_zh": "",
            "audience": "public", "publish": "y", **extra}
    assert client.post(url, data=data).status_code == 302
    return db.session.scalars(select(Update).order_by(Update.id.desc())).first()


def publish_event(client) -> str:
    url = "/hubs/voice-hub/events/new"
    data = {
        "csrf_token": csrf_token(client.get(url)),
        "title_en": "Harbour walk", "title_zh": "", "description_en": "A walk.",
        "description_zh": "", "timezone": "Europe/London",
        "start_date": "2099-06-14", "start_time": "14:00",
        "end_date": "2099-06-14", "end_time": "17:30",
        "mode": "in_person", "venue": "The park", "address": "",
        "location_visibility": "public", "online_url": "", "online_visibility": "attendees",
        "reveal_hours": "", "audience": "public", "capacity": "", "max_guests": "0",
        "waitlist_enabled": "y", "rsvp_opens_date": "", "rsvp_opens_time": "",
        "rsvp_closes_date": "", "rsvp_closes_time": "", "lang_en": "y", "other_languages": "",
    }
    assert client.post(url, data=data).status_code == 302
    event = db.session.scalars(select(Event).order_by(Event.id.desc())).first()
    page = client.get(f"/events/{event.public_id}/edit")
    assert client.post(f"/events/{event.public_id}/publish",
                       data={"csrf_token": csrf_token(page)}).status_code == 302
    return event.public_id


def everything_a_reader_gets(app, world, update, event_id) -> dict[str, str]:
    visitor, member = signed_in(app), signed_in(app, world["reader"])
    run_fan_outs()
    surfaces = {
        "update page (visitor)": visitor.get(f"/updates/{update.public_id}"),
        "update page (member)": member.get(f"/updates/{update.public_id}"),
        "hub page": member.get("/hubs/voice-hub"),
        "event page": member.get(f"/events/{event_id}"),
        "updates feed": visitor.get("/hubs/voice-hub/updates.atom"),
        "events feed": visitor.get("/hubs/voice-hub/events.atom"),
        "site updates feed": visitor.get("/updates.atom"),
        "hub calendar": visitor.get("/hubs/voice-hub/events.ics"),
        "event calendar": visitor.get(f"/events/{event_id}/calendar.ics"),
        "dashboard": member.get("/dashboard"),
    }
    texts = {}
    for name, response in surfaces.items():
        assert response.status_code == 200, name
        texts[name] = response.get_data(as_text=True)
    for email in outbox(world["reader"].email):
        texts[f"email {email.subject}"] = (email.subject + email.body_text
                                           + (email.body_html or ""))
    return texts


def test_a_hub_speaks_for_its_organisers_everywhere(app, world):
    lead = signed_in(app, world["lead"])
    update = publish_update(lead)
    event_id = publish_event(lead)

    texts = everything_a_reader_gets(app, world, update, event_id)
    assert any(name.startswith("email") for name in texts), "the reader got no email"
    for name, text in texts.items():
        assert ORGANISER_NAME not in text, name
        assert ORGANISER_EMAIL not in text, name
    assert "Voice Hub" in texts["update page (visitor)"]
    # Atom: the feed's author is the hub, and no entry names anyone else.
    assert "<author><name>Voice Hub</name></author>" in texts["updates feed"]
    assert texts["updates feed"].count("<author>") == 1
    assert "<author><name>Voice Hub</name></author>" in texts["events feed"]

    # The organisers' own trail keeps who did it.
    audit_page = lead.get("/hubs/voice-hub/organise/audit").get_data(as_text=True)
    assert ORGANISER_NAME in audit_page
    actors = set(db.session.scalars(select(AuditEntry.actor_id).where(
        AuditEntry.action.in_(["update.create", "event.create"]))))
    assert actors == {world["lead"].id}


def test_a_hub_that_chooses_to_show_authors_names_them_on_the_update(app, world):
    hub = world["hub"]
    hub.show_authors = True
    db.session.flush()
    update = publish_update(signed_in(app, world["lead"]))
    page = signed_in(app).get(f"/updates/{update.public_id}").get_data(as_text=True)
    assert ORGANISER_NAME in page
    # Feeds and calendars stay the hub's voice whatever the setting.
    feed = signed_in(app).get("/hubs/voice-hub/updates.atom").get_data(as_text=True)
    assert ORGANISER_NAME not in feed


def test_the_setting_is_saved_and_audited_from_the_settings_page(app, world):
    client = signed_in(app, world["lead"])
    page = client.get("/hubs/voice-hub/settings")
    assert "Name the organiser who wrote each update" in page.get_data(as_text=True)
    data = settings_services.settings_of(world["hub"])
    data = {k: ("y" if v is True else v) for k, v in data.items() if v is not False}
    data.update(csrf_token=csrf_token(page), show_authors="y")
    assert client.post("/hubs/voice-hub/settings", data=data).status_code == 302
    db.session.refresh(world["hub"])
    assert world["hub"].show_authors is True
    detail = db.session.scalars(select(AuditEntry.detail).where(
        AuditEntry.action == "hub.settings")).one()
    assert "show_authors: False -> True" in detail


def test_the_high_risk_preset_hides_authors_and_a_hub_may_name_them_again(app, world):
    hub, lead = world["hub"], world["lead"]
    hub.show_authors = True
    db.session.flush()
    settings_services.set_high_risk(hub, lead, True)
    assert hub.show_authors is False
    assert settings_services.protections(hub)["posts_as_hub"] is True

    values = settings_services.settings_of(hub)
    values["show_authors"] = True
    changed = settings_services.update_settings(hub, lead, **values)
    assert changed == ["show_authors"] and hub.high_risk and hub.show_authors


def test_new_hubs_post_as_the_hub(app):
    assert make_hub(make_chapter("nh")).show_authors is False


# --- comments: an organiser's comment is the hub speaking --------------------------

def test_organisers_comments_speak_as_the_hub_and_members_keep_their_names(app, world):
    hub, reader = world["hub"], world["reader"]
    organiser = make_user("second@posts.example", display_name="Second Organiser")
    make_membership(organiser, hub, MemberRole.ORGANISER)
    membership = db.session.scalar(select(Membership).where(Membership.user_id == reader.id))
    membership.hub_display_name = "Reader In Voice"
    db.session.flush()
    lead = signed_in(app, world["lead"])
    update = publish_update(lead, audience="members", allow_comments="y")
    url = f"/updates/{update.public_id}"
    comment_ids = {}
    for who, body in ((lead, "From the lead."), (signed_in(app, organiser), "From an organiser."),
                      (signed_in(app, reader), "From a member.")):
        response = who.post(f"{url}/comments", data={"csrf_token": csrf_token(who.get(url)),
                                                     "body": body})
        assert response.status_code == 302, body
        comment_ids[body] = db.session.scalars(
            select(Comment.public_id).where(Comment.body == body)).one()

    def comment_heads(client) -> list[str]:
        page = client.get(url).get_data(as_text=True)
        comments = page.split('id="comments"', 1)[1]
        return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", head)).strip().split(" · ")[0]
                for head in re.findall(r'<article class="comment"[^>]*>\s*<p class="muted">'
                                       r'(.*?)</p>', comments, re.S)]

    member = signed_in(app, reader)
    # Every reader sees the same: the organisers' comments as the hub, the member by
    # the name they use in this hub.
    for client in (member, lead, signed_in(app, organiser)):
        assert comment_heads(client) == ["Voice Hub Hub", "Voice Hub Hub", "Reader In Voice"]
        page = client.get(url).get_data(as_text=True)
        assert ORGANISER_NAME not in page and "Second Organiser" not in page

    # A later change of role shows nothing: the comment was the hub's when written.
    db.session.scalar(select(Membership).where(
        Membership.user_id == organiser.id)).role = MemberRole.MEMBER
    db.session.flush()
    assert comment_heads(member) == ["Voice Hub Hub", "Voice Hub Hub", "Reader In Voice"]

    # Moderation keeps the person: a report of the lead's comment names them to the lead.
    report_url = f"/comments/{comment_ids['From the lead.']}/report"
    member.post(report_url, data={"csrf_token": csrf_token(member.get(report_url)),
                                  "reason": "Please look."})
    moderation = lead.get("/hubs/voice-hub/moderation").get_data(as_text=True)
    assert "From the lead." in moderation and ORGANISER_NAME in moderation

    # A hub that names its authors names them on comments too.
    hub.show_authors = True
    db.session.flush()
    assert comment_heads(member) == [ORGANISER_NAME, "Second Organiser", "Reader In Voice"]
