"""The command-line tasks: seeding the demo and creating an admin."""

from sqlalchemy import func, select

from community.auth.models import User
from community.auth.passwords import verify_password
from community.cli import seed_demo
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
    admin = db.session.scalar(select(User).where(User.email == "Boss@example.org"))
    assert admin.is_site_admin
    assert verify_password(admin.password_hash, "a-long-enough-password")


def test_create_admin_refuses_a_short_password(runner):
    result = runner.invoke(
        args=["create-admin", "--email", "a@example.org", "--display-name", "A"],
        input="short\nshort\n",
    )
    assert result.exit_code != 0
    assert "12 characters" in result.output
    assert db.session.scalar(select(User).where(User.email == "a@example.org")) is None
