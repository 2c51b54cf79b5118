"""Vouched admission (issue 16 item 1): organisers may approve a request to join
only once N active members have vouched; members see the request by the name
the person chose and nothing else; nobody learns who declined; leads can read
who vouched for whom, and that reading is audited."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from community.audit_models import AuditEntry
from community.extensions import db
from community.factories import make_chapter, make_hub, make_membership, make_user
from community.hubs.models import JoinPolicy, MemberRole, Membership, MembershipStatus
from community.hubs.settings import services as settings_services
from tests.conftest import csrf_token, login_as

ACCOUNT_NAME = "Candidate Account"
CHOSEN_NAME = "Pat from the market"


@pytest.fixture
def world():
    hub = make_hub(make_chapter("vc"), "vouch-hub", join_policy=JoinPolicy.APPROVAL,
                   vouches_required=2)
    people = {name: make_user(f"{name}@vouch.example", display_name=name.title())
              for name in ("ann", "ben", "cat", "outsider")}
    for name in ("ann", "ben", "cat"):
        make_membership(people[name], hub)
    people["lead"] = make_user("lead@vouch.example", display_name="Lead Person",
                               totp_secret=pyotp.random_base32())
    make_membership(people["lead"], hub, MemberRole.LEAD)
    people["candidate"] = make_user("candidate@vouch.example", display_name=ACCOUNT_NAME)
    request_ = make_membership(people["candidate"], hub, status=MembershipStatus.PENDING,
                               join_answer="I run the stall by the pier",
                               hub_display_name=CHOSEN_NAME)
    return {"hub": hub, "people": people, "request": request_}


def client_for(app, user):
    return login_as(app.test_client(), user)


def answer(client, request_, choice):
    page = client.get("/hubs/vouch-hub/vouching")
    return client.post(f"/hubs/vouch-hub/vouching/{request_.public_id}",
                       data={"csrf_token": csrf_token(page), "choice": choice})


def approve(client, request_):
    page = client.get("/hubs/vouch-hub/organise/members")
    return client.post(f"/hubs/vouch-hub/organise/members/{request_.public_id}/approve",
                       data={"csrf_token": csrf_token(page)}, follow_redirects=True)


def status_of(request_):
    db.session.expire_all()
    return db.session.scalar(select(Membership.status).where(Membership.id == request_.id))


def test_two_vouches_then_approval_and_nobody_learns_who_declined(app, world):
    people, request_ = world["people"], world["request"]
    ann = client_for(app, people["ann"])
    page = ann.get("/hubs/vouch-hub/vouching").get_data(as_text=True)
    assert CHOSEN_NAME in page
    # Only the name the person chose: not their account name, answer or address.
    assert ACCOUNT_NAME not in page and "stall by the pier" not in page
    assert "candidate@vouch.example" not in page

    lead = client_for(app, people["lead"])
    refused = approve(lead, request_).get_data(as_text=True)
    assert "needs 2 members to vouch" in refused
    assert "Vouched for by 0 of the 2 members needed" in refused
    assert status_of(request_) is MembershipStatus.PENDING

    assert answer(ann, request_, "vouch").status_code == 302
    assert "You vouched for" in ann.get("/hubs/vouch-hub/vouching").get_data(as_text=True)
    ben = client_for(app, people["ben"])
    assert answer(ben, request_, "decline").status_code == 302
    assert "Nobody will learn" in ben.get("/hubs/vouch-hub/vouching").get_data(as_text=True)
    assert CHOSEN_NAME not in ben.get("/hubs/vouch-hub/vouching").get_data(as_text=True)
    assert CHOSEN_NAME not in ann.get("/hubs/vouch-hub/vouching").get_data(as_text=True)
    assert "1 of the 2" in lead.get("/hubs/vouch-hub/organise/members").get_data(as_text=True)
    assert status_of(request_) is MembershipStatus.PENDING
    assert "needs 2 members" in approve(lead, request_).get_data(as_text=True)

    assert answer(client_for(app, people["cat"]), request_, "vouch").status_code == 302
    approve(lead, request_)
    assert status_of(request_) is MembershipStatus.ACTIVE

    # Leads see the sponsors, never the decline; reading it is audited.
    sponsors = lead.get("/hubs/vouch-hub/organise/vouches")
    assert sponsors.status_code == 200
    text = sponsors.get_data(as_text=True)
    row = text.split(CHOSEN_NAME, 1)[1].split("</tr>", 1)[0]
    assert "Ann" in row and "Cat" in row and "Ben" not in text
    actions = list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.hub_id == world["hub"].id).order_by(AuditEntry.id)))
    assert actions.count("vouch.give") == 2 and "vouches.view" in actions
    assert db.session.scalar(select(AuditEntry.id).where(
        AuditEntry.actor_id == people["ben"].id)) is None
    audit_page = lead.get("/hubs/vouch-hub/organise/audit").get_data(as_text=True)
    assert "Ben" not in audit_page


def test_only_active_members_answer_each_request_once_and_never_their_own(app, world):
    people, request_ = world["people"], world["request"]
    assert answer(client_for(app, people["outsider"]), request_, "vouch").status_code == 404
    candidate = client_for(app, people["candidate"])
    assert candidate.get("/hubs/vouch-hub/vouching").status_code == 404
    ann = client_for(app, people["ann"])
    assert answer(ann, request_, "maybe").status_code == 400
    assert answer(ann, request_, "vouch").status_code == 302
    assert answer(ann, request_, "vouch").status_code == 404
    # An active member is not a request.
    ben = db.session.scalar(select(Membership).where(Membership.user_id == people["ben"].id))
    assert answer(ann, ben, "vouch").status_code == 404


def test_the_high_risk_preset_asks_for_a_vouch_and_keeps_asking(app, world):
    hub, lead = world["hub"], world["people"]["lead"]
    hub.vouches_required = 0
    db.session.flush()
    with app.test_request_context("/"):
        settings_services.set_high_risk(hub, lead, True)
        assert hub.vouches_required == 1
        values = settings_services.settings_of(hub)
        with pytest.raises(settings_services.SettingsError) as error:
            settings_services.update_settings(hub, lead, **{**values, "vouches_required": "0"})
        assert error.value.field == "vouches_required"
        assert settings_services.update_settings(
            hub, lead, **{**values, "vouches_required": "3"}) == ["vouches_required"]
        with pytest.raises(settings_services.SettingsError):
            settings_services.update_settings(hub, lead, **{**values, "vouches_required": "9"})


def test_a_hub_without_vouching_works_as_before(app, world):
    hub, request_ = world["hub"], world["request"]
    hub.vouches_required = 0
    db.session.flush()
    ann = client_for(app, world["people"]["ann"])
    page = ann.get("/hubs/vouch-hub/vouching").get_data(as_text=True)
    assert "does not ask members to vouch" in page and CHOSEN_NAME not in page
    approve(client_for(app, world["people"]["lead"]), request_)
    assert status_of(request_) is MembershipStatus.ACTIVE
