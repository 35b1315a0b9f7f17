"""/whoami, /people and /help through the console."""

from __future__ import annotations

from tests.harness import Chat


async def test_whoami_shows_org_role_and_accounts(chat: Chat) -> None:
    said = await chat.ok("/whoami", as_="carol")
    assert "You are @carol" in said.reply
    assert "Org: Index Coop (`ic`)" in said.reply and "Role: lead" in said.reply
    assert "console: carol" in said.reply


async def test_people_list_by_org(chat: Chat) -> None:
    everyone = await chat.ok("/people list")
    assert "People (5)" in everyone.reply
    ic = await chat.ok("/people list ic")
    assert "@carol" in ic.reply and "@alice" not in ic.reply


async def test_only_admins_change_roles(chat: Chat) -> None:
    answer = await chat.fails("/people role @bob lead", as_="alice")
    assert answer == "Only admins can use /people role. Ask an admin."


async def test_an_admin_changes_a_role_and_it_is_announced(chat: Chat) -> None:
    from sqlalchemy import update

    from storage.models import Person, Role

    async with chat.runtime.sessions.begin() as session:
        await session.execute(
            update(Person).where(Person.handle == "alice").values(role=Role.ADMIN)
        )
    said = await chat.ok("/people role @bob lead")
    assert "Done: @bob is now a `lead`." in said.reply
    assert "@bob is now a lead (was member), set by @alice." in said.notification()
    # bob can now do what leads do.
    await chat.ok('/dri set "Keeper bots" @bob', as_="bob")
    assert "expected one of member, lead, admin" in await chat.fails("/people role @bob boss")


async def test_someone_new_is_recorded_on_first_use(chat: Chat) -> None:
    said = await chat.ok("/whoami", as_="frank")
    assert "You are @frank" in said.reply and "none yet: ask an admin" in said.reply
    listed = await chat.ok("/people list")
    assert "@frank — frank, member (no org)" in listed.reply


async def test_help_lists_groups_and_explains_commands(chat: Chat) -> None:
    overview = await chat.ok("/help")
    assert "`/dri` — Who is the directly responsible individual" in overview.reply
    group = await chat.ok("/help dri")
    assert "`/dri set <area> @person [backup=@person] [org=org] [category=category]`" in group.reply
    assert "(leads)" in group.reply
    one = await chat.ok("/help dri set")
    assert "• [backup=@person] — Who stands in for the DRI" in one.reply
    assert "Did you mean /help dri?" in await chat.fails("/help dir")
