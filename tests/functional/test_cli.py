"""The command-line tasks: seeding the demo and creating an admin."""

from sqlalchemy import func, select

from community.auth.models import User
from community.auth.passwords import verify_password
from community.auth.services import find_user
from community.cli import seed_demo
from community.encryption import blind_index
from community.events.models import Event
from community.extensions import db
from community.hubs.models import Chapter, Hub


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_creates_bilingual_chapters_and_hubs_and_is_idempotent(client):
    first = seed_demo("demo-password-123")
    assert first["chapters"] == 5 and first["hubs"] == 10
    codes = set(db.session.scalars(select(Chapter.code)))
    assert codes == {"au", "ca", "tw", "uk", "us"}
    for hub in db.session.scalars(select(Hub)):
        assert hub.name_en and hub.name_zh and hub.timezone
    assert count(Event) == 30
    again = seed_demo("demo-password-123")
    assert set(again.values()) == {0}
    assert count(Event) == 30

    page = client.get("/", headers={"Accept-Language": "zh-HK"}).get_data(as_text=True)
    assert "倫敦香港人" in page and "英國" in page


def test_seeded_events_keep_their_local_wall_clock_time():
    seed_demo("demo-password-123")
    from zoneinfo import ZoneInfo

    for event in db.session.scalars(select(Event)):
        local = event.starts_at.astimezone(ZoneInfo(event.timezone))
        assert local.hour in (14, 18) and local.minute == 0


def test_create_admin_asks_for_the_password_without_echo(runner):
    result = runner.invoke(
        args=["create-admin", "--email", "Boss@Example.ORG", "--display-name", "Boss"],
        input="a-long-enough-password\na-long-enough-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "a-long-enough-password" not in result.output
    admin = find_user("Boss@example.org")
    assert admin.is_site_admin
    assert verify_password(admin.password_hash, "a-long-enough-password")


def test_create_admin_refuses_a_short_password(runner):
    result = runner.invoke(
        args=["create-admin", "--email", "a@example.org", "--display-name", "A"],
        input="short\nshort\n",
    )
    assert result.exit_code != 0
    assert "12 characters" in result.output
    assert find_user("a@example.org") is None


def create_admin(runner, email, password="violet-harbour-lantern-91", name="Boss"):
    return runner.invoke(args=["create-admin", "--email", email, "--display-name", name],
                         input=f"{password}\n{password}\n")


def test_create_admin_refuses_a_password_sign_up_refuses(runner):
    result = create_admin(runner, "a@example.org", "password1234")
    assert result.exit_code != 0
    assert "too common" in result.output
    assert find_user("a@example.org") is None


def test_create_admin_refuses_an_address_sign_up_refuses(runner):
    result = create_admin(runner, "not-an-email")
    assert result.exit_code != 0
    assert "Enter an email address like name@example.org." in result.output
    assert count(User) == 0


def test_create_admin_matches_the_address_ignoring_case_and_promotes(runner):
    from community import factories

    member = factories.make_user("admin@example.org", display_name="Existing")
    db.session.flush()
    result = create_admin(runner, "ADMIN@Example.org")
    assert result.exit_code == 0, result.output
    assert "already has an account" in result.output and "now a site admin" in result.output
    assert count(User) == 1
    assert member.is_site_admin
    assert verify_password(member.password_hash, "correct horse battery staple")


def test_create_admin_writes_an_audit_entry(runner):
    from community.audit_models import AuditEntry

    assert create_admin(runner, "new.admin@example.org").exit_code == 0
    admin = find_user("new.admin@example.org")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.subject_user_id == admin.id))
    assert entry.action == "admin.create" and entry.target_id == admin.public_id
    assert entry.actor_id is None

    other = create_admin(runner, "member@example.org", name="Member")
    assert other.exit_code == 0
    find_user("member@example.org").is_site_admin = False
    assert create_admin(runner, "MEMBER@example.org").exit_code == 0
    actions = db.session.scalars(select(AuditEntry.action).join(
        User, User.id == AuditEntry.subject_user_id)
        .where(User.email_index == blind_index("member@example.org")))
    assert sorted(actions) == ["admin.create", "admin.grant"]


def test_seed_commands_refuse_to_run_in_production(app, runner, monkeypatch):
    monkeypatch.setitem(app.config, "HARBOUR_ENV", "production")
    for command in ("seed-demo", "seed-if-empty", "seed-scale"):
        result = runner.invoke(args=[command])
        assert result.exit_code != 0
        assert "refused when HARBOUR_ENV is production" in result.output
    assert count(User) == 0 and count(Chapter) == 0
