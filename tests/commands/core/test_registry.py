"""The registry: one declaration per command, names unique, usage and help from the declaration."""

from __future__ import annotations

from typing import Any

import pytest

from commands import build_registry
from commands.core.arguments import split
from commands.core.context import CommandError, Context
from commands.core.messages import Message
from commands.core.registry import CommandNotFound, Group, Kind, Param, Registry


async def _noop(ctx: Context, args: dict[str, Any]) -> Message:
    """Do nothing."""
    return Message()


def test_every_command_has_help_and_a_usage_line() -> None:
    for cmd in build_registry().commands():
        assert cmd.summary, cmd.name
        assert cmd.usage.startswith("/" + cmd.name)
        assert all(p.help for p in cmd.params), cmd.name


def test_two_commands_with_one_name_are_rejected() -> None:
    group = Group("dup", "Duplicates")
    group.command("same")(_noop)
    group.command("same")(_noop)
    with pytest.raises(ValueError, match="two commands are called /dup same"):
        Registry([group])


def test_two_groups_with_one_name_are_rejected() -> None:
    with pytest.raises(ValueError, match="two command groups"):
        Registry([Group("g", "one"), Group("g", "two")])


def test_a_handler_without_a_docstring_is_rejected() -> None:
    async def undocumented(ctx: Context, args: dict[str, Any]) -> Message:
        return Message()

    with pytest.raises(ValueError, match="needs a docstring"):
        Group("g", "g").command("x")(undocumented)


def test_usage_lines_show_required_optional_and_keyword_parameters() -> None:
    registry = build_registry()
    usages = {c.name: c.usage for c in registry.commands()}
    assert usages["dri set"] == (
        "/dri set <area> @person [backup=@person] [org=org] [category=category]"
    )
    assert usages["handoff plan"] == "/handoff plan <area> near|long [quarter] [to=org]"
    assert usages["people role"] == "/people role @person member|lead|admin"


def test_find_resolves_groups_commands_and_suggests() -> None:
    registry = build_registry()
    cmd, rest = registry.find(["/dri", "who", "x"])
    assert cmd.name == "dri who" and rest == ["x"]
    cmd, rest = registry.find(["whoami"])
    assert cmd.name == "whoami" and rest == []
    with pytest.raises(CommandNotFound, match="Did you mean /handoff"):
        registry.find(["/handof", "board"])


def _cmd(*params: Param) -> Any:
    group = Group("t", "test")
    group.command("c", *params)(_noop)
    return group.commands[0]


def test_the_free_text_parameter_absorbs_unquoted_words() -> None:
    cmd = _cmd(
        Param("area", Kind.AREA, "a"),
        Param("horizon", Kind.CHOICE, "h", choices=("near", "long")),
        Param("quarter", Kind.QUARTER, "q", required=False),
    )
    assert split(cmd, ["Smart", "contract", "review", "near", "2026Q1"]) == {
        "area": "Smart contract review",
        "horizon": "near",
        "quarter": "2026Q1",
    }
    assert split(cmd, ["Smart", "contract", "review", "near"]) == {
        "area": "Smart contract review",
        "horizon": "near",
    }


def test_keyword_options_are_taken_wherever_they_are() -> None:
    cmd = _cmd(
        Param("area", Kind.AREA, "a"),
        Param("person", Kind.PERSON, "p"),
        Param("backup", Kind.PERSON, "b", required=False, keyword=True),
    )
    assert split(cmd, ["backup=@x", "Oracle", "ops", "@bob"]) == {
        "area": "Oracle ops",
        "person": "@bob",
        "backup": "@x",
    }


def test_unknown_options_and_extra_words_are_explained() -> None:
    cmd = _cmd(
        Param("n", Kind.INT, "n"), Param("when", Kind.DATE, "d", required=False, keyword=True)
    )
    with pytest.raises(CommandError, match="has no option whn=; it takes when="):
        split(cmd, ["1", "whn=2026-01-01"])
    with pytest.raises(CommandError, match="does not take '2 3'"):
        split(cmd, ["1", "2", "3"])


def test_a_quoted_name_is_never_extended_by_a_bad_value_after_it() -> None:
    from commands.core.grammar import tokenize

    cmd = _cmd(
        Param("area", Kind.AREA, "a"),
        Param("horizon", Kind.CHOICE, "h", choices=("near", "long")),
        Param("quarter", Kind.QUARTER, "q", required=False),
    )
    words = tokenize('"Smart contract review" near 2026Q5')
    assert split(cmd, words) == {
        "area": "Smart contract review",
        "horizon": "near",
        "quarter": "2026Q5",
    }


def test_an_unknown_option_is_refused_even_where_text_is_free() -> None:
    from commands.core.grammar import tokenize

    cmd = _cmd(
        Param("area", Kind.AREA, "a"),
        Param("person", Kind.PERSON, "p"),
        Param("backup", Kind.PERSON, "b", required=False, keyword=True),
    )
    with pytest.raises(CommandError, match="has no option foo=; it takes backup="):
        split(cmd, tokenize("X @bob foo=bar"))
    # Quoted, it is just text.
    assert split(cmd, tokenize('"a=b" @bob'))["area"] == "a=b"


def test_tokenize_keeps_quoted_runs_and_knows_they_were_quoted() -> None:
    from commands.core.grammar import GrammarError, tokenize

    words = tokenize('/dri set "Smart  contract" @bob “curly quotes”')
    assert words == ["/dri", "set", "Smart  contract", "@bob", "curly quotes"]
    assert [w.quoted for w in words] == [False, False, True, False, True]
    assert tokenize("Set's roadmap") == ["Set's", "roadmap"]
    with pytest.raises(GrammarError, match="unbalanced quote"):
        tokenize('"open')
