"""Command-line tasks: `flask --app wsgi seed-demo`, `create-admin`, ..."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from community import factories
from community.auth.models import User
from community.database import utcnow
from community.encryption import blind_index
from community.events.models import Audience, EventMode, Tier
from community.extensions import db
from community.hubs.models import Chapter, Hub, JoinPolicy, MemberRole
from community.updates.models import UpdateAudience

CHAPTERS = [
    ("au", "Australia", "澳洲", "Australia/Sydney", [
        ("sydney", "Sydney", "悉尼", "Australia/Sydney"),
        ("melbourne", "Melbourne", "墨爾本", "Australia/Melbourne"),
    ]),
    ("ca", "Canada", "加拿大", "America/Toronto", [
        ("toronto", "Toronto", "多倫多", "America/Toronto"),
        ("vancouver", "Vancouver", "溫哥華", "America/Vancouver"),
    ]),
    ("tw", "Taiwan", "台灣", "Asia/Taipei", [
        ("taipei", "Taipei", "台北", "Asia/Taipei"),
        ("taichung", "Taichung", "台中", "Asia/Taipei"),
    ]),
    ("uk", "United Kingdom", "英國", "Europe/London", [
        ("london", "London", "倫敦", "Europe/London"),
        ("manchester", "Manchester", "曼徹斯特", "Europe/London"),
    ]),
    ("us", "United States", "美國", "America/New_York", [
        ("new-york", "New York", "紐約", "America/New_York"),
        ("san-francisco", "San Francisco", "三藩市", "America/Los_Angeles"),
    ]),
]

EVENT_IDEAS = [
    ("Cantonese conversation evening", "廣東話傾偈夜",
     "Practise Cantonese over tea. All levels welcome; bring a friend.",
     "一齊飲茶講廣東話，唔理程度都歡迎，可以帶埋朋友嚟。"),
    ("Hong Kong film night", "香港電影夜",
     "We screen a Hong Kong classic and talk about it afterwards.",
     "一齊睇一套香港經典電影，散場後傾下感想。"),
    ("Newcomers' picnic", "新朋友野餐",
     "New in town? Meet people who have been here a while. Food shared.",
     "啱啱搬嚟？嚟識下早啲落地嘅朋友，食物大家分享。"),
    ("Letter-writing for political prisoners", "寫信畀政治犯",
     "Write cards to people behind bars. Paper and stamps provided.",
     "寫心意卡畀身陷囹圄嘅人，紙同郵票我哋準備好。"),
    ("Dim sum and community meeting", "飲茶兼社區大會",
     "Our monthly meeting: plans for the season, then yum cha.",
     "每月例會：傾下今季計劃，之後一齊飲茶。"),
]


def _local(zone: str, days_ahead: int, hour: int) -> datetime:
    """A wall-clock time in ``zone`` some days from today, as aware UTC."""
    tz = ZoneInfo(zone)
    day = (utcnow().astimezone(tz) + timedelta(days=days_ahead)).date()
    return datetime.combine(day, time(hour, 0), tzinfo=tz).astimezone(ZoneInfo("UTC"))


def seed_demo(password: str) -> dict[str, int]:
    """Create the demo chapters, hubs, people, events and updates; skip what exists.

    Returns how many rows of each kind were created.
    """
    created = {"chapters": 0, "hubs": 0, "users": 0, "events": 0, "updates": 0}
    password_hash = None

    def user(email: str, name: str, **kw) -> User:
        nonlocal password_hash
        existing = db.session.scalar(select(User).where(User.email_index == blind_index(email)))
        if existing:
            return existing
        if password_hash is None:
            from community.auth.passwords import hash_password

            password_hash = hash_password(password)
        created["users"] += 1
        return factories.make_user(email, display_name=name, password_hash=password_hash, **kw)

    admin = user("admin@example.org", "Harbour admin", is_site_admin=True)
    del admin
    idea_index = 0
    for code, name_en, name_zh, zone, hubs in CHAPTERS:
        chapter = db.session.scalar(select(Chapter).where(Chapter.code == code))
        if chapter is None:
            chapter = factories.make_chapter(
                code, name_en=name_en, name_zh=name_zh, default_timezone=zone
            )
            created["chapters"] += 1
        coordinator = user(f"coordinator.{code}@example.org", f"{name_en} coordinator")
        if not chapter.roles:
            factories.make_coordinator(coordinator, chapter)
        for slug, city_en, city_zh, hub_zone in hubs:
            hub = db.session.scalar(select(Hub).where(Hub.slug == slug))
            if hub is not None:
                continue
            hub = factories.make_hub(
                chapter,
                slug,
                name_en=f"Hongkongers in {city_en}",
                name_zh=f"{city_zh}香港人",
                city_en=city_en,
                city_zh=city_zh,
                timezone=hub_zone,
                join_policy=JoinPolicy.OPEN if slug != "taichung" else JoinPolicy.APPROVAL,
                description_en=f"A friendly hub for Hongkongers and friends in {city_en}.",
                description_zh=f"{city_zh}香港人同朋友嘅聚腳點。",
            )
            created["hubs"] += 1
            lead = user(f"lead.{slug}@example.org", f"{city_en} lead")
            factories.make_membership(lead, hub, MemberRole.LEAD)
            for i in (1, 2):
                member = user(f"member{i}.{slug}@example.org", f"{city_en} member {i}")
                factories.make_membership(member, hub)
            for days, audience in ((-10, Audience.PUBLIC), (9, Audience.PUBLIC),
                                   (23, Audience.MEMBERS)):
                title_en, title_zh, body_en, body_zh = EVENT_IDEAS[idea_index % len(EVENT_IDEAS)]
                idea_index += 1
                starts = _local(hub_zone, days, 18 if days % 2 else 14)
                factories.make_event(
                    hub,
                    starts_at=starts,
                    title_en=title_en,
                    title_zh=title_zh,
                    description_en=body_en,
                    description_zh=body_zh,
                    audience=audience,
                    mode=EventMode.IN_PERSON,
                    venue=f"Community centre, {city_en}",
                    location_visibility=Tier.ATTENDEES,
                    capacity=30,
                    languages="yue en",
                    created_by_id=lead.id,
                )
                created["events"] += 1
            factories.make_update(
                hub,
                title_en=f"Welcome to Hongkongers in {city_en}",
                title_zh=f"歡迎加入{city_zh}香港人",
                body_en="Say hello at our next event. Organisers never share who attends.",
                body_zh="下次活動嚟打個招呼。搞手絕不會公開邊個出席。",
                audience=UpdateAudience.PUBLIC,
                author_id=lead.id,
            )
            created["updates"] += 1
    return created


def seed_scale(events: int, rsvps: int, people: int, *, progress=None, seed: int = 7) -> None:
    """Add a large data set on top of the demo: ``events`` events spread over the
    demo hubs a year either side of today, ``people`` members and ``rsvps`` RSVPs.

    Rows go in with bulk inserts of 10,000; ``progress(n)`` is called as they do.
    """
    import random

    import sqlalchemy as sa

    from community.auth.passwords import hash_password
    from community.database import new_public_id
    from community.events.models import Event, Rsvp

    rng = random.Random(seed)  # noqa: S311 (made-up benchmark data, not secrets)
    hubs = db.session.execute(sa.select(Hub.id, Hub.timezone)).all()
    if not hubs:
        raise click.ClickException("run seed-demo first")
    now = utcnow()
    batch = 10_000
    password_hash = hash_password(secrets_token())
    first_user = (db.session.scalar(sa.select(func.max(User.id))) or 0) + 1
    for start in range(0, people, batch):
        db.session.execute(sa.insert(User), [
            {"public_id": new_public_id(), "email": f"scale{first_user + n}@scale.invalid",
             "email_index": blind_index(f"scale{first_user + n}@scale.invalid"),
             "display_name": f"Scale member {first_user + n}", "password_hash": password_hash,
             "email_verified_at": now}
            for n in range(start, min(people, start + batch))
        ])
        if progress:
            progress(min(batch, people - start))
    user_ids = list(db.session.scalars(
        sa.select(User.id).where(User.id >= first_user)))
    event_ids = []
    for start in range(0, events, batch):
        rows = []
        for _ in range(start, min(events, start + batch)):
            hub_id, zone = rng.choice(hubs)
            begins = now + timedelta(hours=rng.randint(-24 * 365, 24 * 365))
            status = rng.choice(["published"] * 8 + ["draft", "cancelled"])
            rows.append({
                "public_id": new_public_id(), "hub_id": hub_id, "timezone": zone,
                "title_en": f"Community event {rng.randint(1, 10**6)}",
                "title_zh": f"社區活動 {rng.randint(1, 10**6)}",
                "starts_at": begins, "ends_at": begins + timedelta(hours=2),
                "status": status,
                "published_at": None if status == "draft" else begins - timedelta(days=30),
                "audience": rng.choice(["public"] * 3 + ["members"]),
                "languages": rng.choice(["yue en", "en", "cmn", "yue"]),
                "mode": rng.choice(["in_person", "online", "hybrid"]),
                "capacity": rng.choice([None, 20, 50, 200]),
            })
        event_ids += list(db.session.scalars(sa.insert(Event).returning(Event.id), rows))
        if progress:
            progress(len(rows))
    per_event = max(1, rsvps // max(1, len(event_ids)))
    made = 0
    pending: list[dict] = []
    for event_id in event_ids:
        if made >= rsvps:
            break
        for user_id in rng.sample(user_ids, min(per_event, len(user_ids), rsvps - made)):
            pending.append({"public_id": new_public_id(), "event_id": event_id,
                            "user_id": user_id, "status": "going", "guests": 0})
            made += 1
        if len(pending) >= batch:
            db.session.execute(sa.insert(Rsvp), pending)
            if progress:
                progress(len(pending))
            pending = []
    if pending:
        db.session.execute(sa.insert(Rsvp), pending)
        if progress:
            progress(len(pending))


def secrets_token() -> str:
    import secrets

    return secrets.token_urlsafe(24)


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--password", envvar="HARBOUR_DEMO_PASSWORD",
                  default="harbour-demo-password",
                  help="Password of every demo account (local demos only).")
    def seed_demo_command(password: str) -> None:
        """Create demo chapters, hubs, people, events and updates (idempotent)."""
        refuse_in_production("seed-demo")
        created = seed_demo(password)
        db.session.commit()
        summary = ", ".join(f"{n} {kind}" for kind, n in created.items())
        click.echo(f"Demo data: created {summary}.")

    @app.cli.command("seed-if-empty")
    @click.pass_context
    def seed_if_empty(ctx) -> None:
        """Seed the demo only when the database has no chapters yet."""
        refuse_in_production("seed-if-empty")
        if db.session.scalar(select(func.count()).select_from(Chapter)):
            click.echo("Database already has data; not seeding.")
            return
        ctx.invoke(seed_demo_command)

    @app.cli.command("seed-scale")
    @click.option("--events", default=100_000, show_default=True)
    @click.option("--rsvps", default=1_000_000, show_default=True)
    @click.option("--people", default=20_000, show_default=True)
    def seed_scale_command(events: int, rsvps: int, people: int) -> None:
        """Add a large data set (for benchmarks) on top of the demo."""
        refuse_in_production("seed-scale")
        if not db.session.scalar(select(func.count()).select_from(Chapter)):
            seed_demo("harbour-demo-password")
        total = events + rsvps + people
        with click.progressbar(length=total, label="Adding rows") as bar:
            seed_scale(events, rsvps, people, progress=bar.update)
        db.session.commit()
        click.echo(f"Added {people} members, {events} events and {rsvps} RSVPs.")

    @app.cli.command("create-admin")
    @click.option("--email", prompt=True)
    @click.option("--display-name", prompt=True)
    @click.password_option(help="The rules of sign-up apply; asked without echo.")
    def create_admin(email: str, display_name: str, password: str) -> None:
        """Create a site admin, or make the existing account with that address one."""
        user, created = make_admin(email, display_name, password)
        db.session.commit()
        if created:
            click.echo(f"Created site admin {user.display_name} <{user.email}>.")
        else:
            click.echo(f"{user.email} already has an account ({user.display_name}); "
                       "it is now a site admin. Its password is unchanged.")


def refuse_in_production(command: str) -> None:
    """Demo accounts share a published password: never in production."""
    if current_app.config.get("HARBOUR_ENV") == "production":
        raise click.ClickException(
            f"{command} creates demo accounts with a public password and is refused when "
            "HARBOUR_ENV is production."
        )


def make_admin(email: str, display_name: str, password: str) -> tuple[User, bool]:
    """The site admin for ``email`` and whether the account is new.

    The address is checked by the sign-up form's rules and matched ignoring
    case, so an existing account is promoted rather than duplicated; a new
    account's password must pass the sign-up password rules. Writes an audit
    entry. Raises click.BadParameter with the rule's words.
    """
    from werkzeug.datastructures import MultiDict

    from community import audit
    from community.auth.forms import SignUpForm
    from community.auth.passwords import hash_password
    from community.auth.services import AuthError, check_new_password, find_user

    with current_app.test_request_context():
        form = SignUpForm(formdata=MultiDict({
            "email": email, "display_name": display_name, "password": password,
            "confirm": password, "locale": "en",
        }), meta={"csrf": False})
        form.validate()
        email_errors = [str(error) for error in form.email.errors]
        name_errors = [str(error) for error in form.display_name.errors]
        email = normalise_email(form.email.data or "")
        try:
            check_new_password(password, email=email, display_name=form.display_name.data or "")
            password_refusal = None
        except AuthError as refusal:
            password_refusal = str(refusal.message)
    if email_errors:
        raise click.BadParameter(" ".join(email_errors), param_hint="email")
    existing = find_user(email)
    if existing is not None:
        if not existing.is_site_admin:
            existing.is_site_admin = True
            audit.record(None, "admin.grant", "user", existing.public_id, subject_user=existing,
                         detail="create-admin on the command line")
        return existing, False
    if name_errors:
        raise click.BadParameter(" ".join(name_errors), param_hint="display name")
    if password_refusal:
        raise click.BadParameter(password_refusal, param_hint="password")
    user = factories.make_user(email, display_name=form.display_name.data,
                               password_hash=hash_password(password), is_site_admin=True)
    db.session.flush()
    audit.record(None, "admin.create", "user", user.public_id, subject_user=user,
                 detail="create-admin on the command line")
    return user, True


def normalise_email(email: str) -> str:
    """Trim, and lower-case the domain (the local part is the owner's business)."""
    email = email.strip()
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}" if local else email


