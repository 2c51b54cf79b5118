"""Issue 16's protections in a real browser with JavaScript off (Tor Browser's
safest mode): per-hub display names, vouched admission, two organisers to open
an attendee list, and posting as the hub. Each journey checks what people
would notice, and what they must not see."""

from __future__ import annotations

import re

import pyotp
import pytest

from community.extensions import db
from community.factories import make_event, make_hub, make_membership, make_rsvp, make_user
from community.hubs.models import JoinPolicy, MemberRole
from tests.browser.journeys import PASSWORD, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.no_db]



def person(email: str, name: str, role=None, hub=None, *, staff: bool = False, **membership):
    """A user (with their own second factor if ``staff``), a member of ``hub`` if given."""
    secret = pyotp.random_base32() if staff else None
    user = make_user(email, PASSWORD, display_name=name, totp_secret=secret)
    if hub is not None:
        make_membership(user, hub, role or MemberRole.MEMBER, **membership)
    return user


def flashes(page) -> str:
    return page.locator(".flashes").inner_text()


# 1. Per-hub display names ------------------------------------------------------

ACCOUNT_NAME = "Journey Account Name"
LEEDS_NAME = "Ah Lam in Leeds"
YORK_NAME = "Sam by the Minster"


@pytest.fixture
def two_hubs(live_server):
    with live_server.app.app_context():
        leeds = make_hub(slug="names-journey-leeds", name_en="Leeds Names Hub")
        york = make_hub(slug="names-journey-york", name_en="York Names Hub")
        member = person("member@names-journey.example", ACCOUNT_NAME)
        for hub in (leeds, york):
            make_membership(member, hub)
        leads = {hub.slug: person(f"lead@{hub.slug}.example", f"Lead of {hub.name_en}",
                                  MemberRole.LEAD, hub, staff=True) for hub in (leeds, york)}
        db.session.commit()
        return member.email, {slug: (lead.email, lead.totp_secret) for slug, lead in leads.items()}


def test_a_member_goes_by_a_different_name_in_each_hub_without_javascript(
    live_server, new_context, two_hubs
):
    email, leads = two_hubs
    member = signed_in_page(new_context, email)
    member.get_by_role("link", name="Your name in each hub").click()
    assert member.url.endswith("/account/names")
    for hub_name, chosen in (("Leeds Names Hub", LEEDS_NAME), ("York Names Hub", YORK_NAME)):
        row = member.locator("tbody tr", has_text=hub_name)
        row.locator("input[name$='-name']").fill(chosen)
        row.get_by_role("button", name="Save").click()
        assert f"In {hub_name} you are now shown as {chosen}." in flashes(member)

    # The member area says which name is used where.
    leeds_row = member.locator("tbody tr", has_text="Leeds Names Hub").inner_text()
    york_row = member.locator("tbody tr", has_text="York Names Hub").inner_text()
    assert LEEDS_NAME in leeds_row and YORK_NAME not in leeds_row
    assert YORK_NAME in york_row and LEEDS_NAME not in york_row
    assert "your display name" not in leeds_row + york_row

    # Each hub's organiser sees only that hub's name: never the account's
    # name, never the name used in the other hub.
    for slug, shown, hidden in (("names-journey-leeds", LEEDS_NAME, YORK_NAME),
                                ("names-journey-york", YORK_NAME, LEEDS_NAME)):
        organiser = signed_in_page(new_context, *leads[slug])
        organiser.goto(f"/hubs/{slug}")
        organiser.get_by_role("link", name="Manage members").click()
        members = organiser.locator("section[aria-labelledby=members-heading] tbody").inner_text()
        assert shown in members, slug
        page = organiser.content()
        assert hidden not in page and ACCOUNT_NAME not in page, slug


# 2. Vouched admission ----------------------------------------------------------

NEWCOMER_ACCOUNT = "Newcomer Account"
CHOSEN_NAME = "Pat from the market"


@pytest.fixture
def vouching_hub(live_server):
    with live_server.app.app_context():
        hub = make_hub(slug="vouch-journey", name_en="Vouch Journey Hub",
                       join_policy=JoinPolicy.APPROVAL, join_question="Who do you know here?")
        users = {
            "lead": person("lead@vouch-journey.example", "Vouch Lead", MemberRole.LEAD, hub,
                           staff=True),
            "organiser": person("organiser@vouch-journey.example", "Vouch Organiser",
                                MemberRole.ORGANISER, hub, staff=True),
            "voucher": person("voucher@vouch-journey.example", "Kind Voucher", hub=hub),
            "decliner": person("decliner@vouch-journey.example", "Careful Decliner", hub=hub),
            "newcomer": person("newcomer@vouch-journey.example", NEWCOMER_ACCOUNT),
        }
        db.session.commit()
        return {key: (user.email, user.totp_secret) for key, user in users.items()}


def test_a_request_to_join_needs_a_vouch_before_approval_without_javascript(
    live_server, new_context, vouching_hub
):
    hub_path = "/hubs/vouch-journey"
    lead = signed_in_page(new_context, *vouching_hub["lead"])
    lead.goto(hub_path)
    lead.get_by_role("link", name="Hub settings").click()
    lead.select_option("#vouches_required", "1")
    lead.get_by_role("button", name="Save settings").click()
    assert lead.locator("#vouches_required").input_value() == "1"

    # The newcomer asks to join, then picks the name this hub will know them by.
    newcomer = signed_in_page(new_context, *vouching_hub["newcomer"])
    newcomer.goto(hub_path)
    newcomer.fill("#answer", "I run the stall by the pier")
    newcomer.get_by_role("button", name="Ask to join").click()
    newcomer.goto(hub_path)
    assert "Your request to join is waiting for the organisers." in newcomer.content()
    newcomer.goto("/account/names")
    row = newcomer.locator("tbody tr", has_text="Vouch Journey Hub")
    row.locator("input[name$='-name']").fill(CHOSEN_NAME)
    row.get_by_role("button", name="Save").click()

    # Nobody has vouched: the organiser cannot approve yet.
    organiser = signed_in_page(new_context, *vouching_hub["organiser"])
    organiser.goto(hub_path)
    organiser.get_by_role("link", name="Manage members").click()
    requests = organiser.locator("section[aria-labelledby=pending-heading]")
    assert "Vouched for by 0 of the 1 members needed" in requests.inner_text()
    requests.get_by_role("button", name=f"Approve {CHOSEN_NAME}").click()
    text = organiser.locator("main").inner_text()
    assert f"This hub needs 1 member to vouch for {CHOSEN_NAME} before you can approve." in text
    assert CHOSEN_NAME in organiser.locator(
        "section[aria-labelledby=pending-heading]").inner_text()
    assert CHOSEN_NAME not in organiser.locator(
        "section[aria-labelledby=members-heading]").inner_text()

    # Members see the request by the chosen name only: not the account's name,
    # not the answer to the join question, not the email address.
    decliner = signed_in_page(new_context, *vouching_hub["decliner"])
    decliner.goto(hub_path)
    decliner.get_by_role("link", name="Requests to join").click()
    page = decliner.content()
    assert CHOSEN_NAME in decliner.locator("main").inner_text()
    for hidden in (NEWCOMER_ACCOUNT, "stall by the pier", "newcomer@vouch-journey.example"):
        assert hidden not in page, hidden
    decliner.get_by_role("button", name=f"I cannot vouch ({CHOSEN_NAME})").click()
    assert "Nobody will learn that you did not vouch." in flashes(decliner)
    assert CHOSEN_NAME not in decliner.locator("main").inner_text()

    voucher = signed_in_page(new_context, *vouching_hub["voucher"])
    voucher.goto(hub_path)
    voucher.get_by_role("link", name="Requests to join").click()
    page = voucher.content()
    assert CHOSEN_NAME in page and NEWCOMER_ACCOUNT not in page
    voucher.get_by_role("button", name=f"I vouch for them ({CHOSEN_NAME})").click()
    assert f"You vouched for {CHOSEN_NAME}." in flashes(voucher)

    # One vouch is enough: the organiser can now approve.
    organiser.goto(f"{hub_path}/organise/members")
    requests = organiser.locator("section[aria-labelledby=pending-heading]")
    assert "Vouched for by 1 of the 1 members needed" in requests.inner_text()
    requests.get_by_role("button", name=f"Approve {CHOSEN_NAME}").click()
    assert f"{CHOSEN_NAME} is now a member of this hub." in flashes(organiser)
    assert CHOSEN_NAME in organiser.locator(
        "section[aria-labelledby=members-heading]").inner_text()
    newcomer.goto(hub_path)
    assert "You are a member of this hub." in newcomer.content()

    # The lead sees who vouched; the member who declined is never named.
    lead.goto(hub_path)
    lead.get_by_role("link", name="Manage members").click()
    lead.get_by_role("link", name="Who vouched for whom").click()
    sponsored = lead.locator("tbody tr", has_text=CHOSEN_NAME).inner_text()
    assert "Kind Voucher" in sponsored
    assert "Careful Decliner" not in lead.content()


# 3. Two organisers to open an attendee list ------------------------------------

ATTENDEE_NAME = "Quiet Attendee"


@pytest.fixture
def guarded_event(live_server):
    with live_server.app.app_context():
        hub = make_hub(slug="two-keys-journey", name_en="Two Keys Journey Hub")
        event = make_event(hub, title_en="Two keys supper")
        lead = person("lead@two-keys.example", "Key Lead Person", MemberRole.LEAD, hub,
                      staff=True)
        asker = person("asker@two-keys.example", "Key Asking Organiser", MemberRole.ORGANISER,
                       hub, staff=True)
        attendee = person("attendee@two-keys.example", ATTENDEE_NAME, hub=hub)
        make_rsvp(event, attendee)
        db.session.commit()
        return {"event": event.public_id, "lead": (lead.email, lead.totp_secret),
                "asker": (asker.email, asker.totp_secret), "attendee": (attendee.email,)}


def test_a_second_organiser_must_agree_before_the_list_opens_without_javascript(
    live_server, new_context, guarded_event
):
    attendees_path = f"/events/{guarded_event['event']}/attendees"
    lead = signed_in_page(new_context, *guarded_event["lead"])
    lead.goto("/hubs/two-keys-journey/settings")
    lead.get_by_role("button", name="Turn the high-risk preset on").click()
    two_keys = lead.locator("tr", has_text="A second organiser must agree").inner_text()
    assert "On" in two_keys

    asker = signed_in_page(new_context, *guarded_event["asker"])
    asker.goto(f"/events/{guarded_event['event']}")
    asker.get_by_role("link", name="Attendees", exact=True).click()
    assert "a second organiser must agree" in asker.locator("main").inner_text()
    assert ATTENDEE_NAME not in asker.content()
    asker.get_by_role("button", name="Ask another organiser to agree").click()
    asker.goto(attendees_path)
    text = asker.locator("main").inner_text()
    assert "You asked on" in text and ATTENDEE_NAME not in asker.content()
    # Nobody agrees to their own request.
    assert "No other organiser is waiting for you." in text

    lead.goto(attendees_path)
    waiting = lead.locator("section[aria-labelledby=approve-heading]")
    assert "Key Asking Organiser asked on" in waiting.inner_text()
    waiting.get_by_role("button", name="Agree").click()
    lead.goto(attendees_path)
    # Agreeing does not open the list to the one who agreed.
    assert ATTENDEE_NAME not in lead.content()

    asker.goto(attendees_path)
    assert ATTENDEE_NAME in asker.locator("main").inner_text()

    attendee = signed_in_page(new_context, *guarded_event["attendee"])
    attendee.goto("/account/settings")
    attendee.get_by_role("link", name="Who looked at my RSVPs").click()
    rows = attendee.locator("tbody").inner_text()
    assert "Agreed, as a second organiser, to an attendee list being opened" in rows
    assert "Opened an attendee list" in rows and "Two Keys Journey Hub" in rows
    page = attendee.content()
    # Roles, never names or addresses.
    for hidden in ("Key Lead Person", "Key Asking Organiser", "lead@two-keys.example",
                   "asker@two-keys.example"):
        assert hidden not in page, hidden


# 4. Post as the hub ------------------------------------------------------------

ORGANISER_NAME = "Wing Journey Organiser"
UPDATE_TITLE = "Harbour picnic on Sunday"


@pytest.fixture
def voice_hub(live_server):
    with live_server.app.app_context():
        hub = make_hub(slug="voice-journey", name_en="Voice Journey Hub")
        lead = person("wing@voice-journey.example", ORGANISER_NAME, MemberRole.LEAD, hub,
                      staff=True)
        db.session.commit()
        return lead.email, lead.totp_secret


def test_an_update_speaks_as_the_hub_without_javascript(live_server, new_context, voice_hub):
    organiser = signed_in_page(new_context, *voice_hub)
    organiser.goto("/hubs/voice-journey")
    organiser.get_by_role("link", name="Post an update").click()
    organiser.fill("#title_en", UPDATE_TITLE)
    organiser.fill("#body_en", "Bring something to share.")
    organiser.select_option("#audience", "public")
    organiser.check("#publish")
    organiser.locator("main form.stack button[type=submit]").click()
    update_path = "/updates/" + re.search(r"/updates/([\w-]+)", organiser.url).group(1)

    visitor = new_context("en", javascript=False).new_page()
    assert visitor.goto(update_path).status == 200
    byline = visitor.locator("article.update p.muted").inner_text()
    assert "Voice Journey Hub" in byline
    assert ORGANISER_NAME not in visitor.content()

    feed = visitor.goto("/hubs/voice-journey/updates.atom")
    assert feed.status == 200
    xml = feed.text()
    assert UPDATE_TITLE in xml
    assert "<author><name>Voice Journey Hub</name></author>" in xml
    assert ORGANISER_NAME not in xml and "wing@voice-journey.example" not in xml

    # The organisers' own trail keeps who wrote it.
    organiser.goto("/hubs/voice-journey/organise/audit")
    assert ORGANISER_NAME in organiser.locator("main").inner_text()

    # A hub that chooses to name authors shows the name on the page, and the
    # feed stays in the hub's voice.
    organiser.goto("/hubs/voice-journey/settings")
    organiser.check("#show_authors")
    organiser.get_by_role("button", name="Save settings").click()
    assert organiser.locator("#show_authors").is_checked()
    visitor.goto(update_path)
    assert ORGANISER_NAME in visitor.locator("article.update p.muted").inner_text()
    assert ORGANISER_NAME not in visitor.goto("/hubs/voice-journey/updates.atom").text()
