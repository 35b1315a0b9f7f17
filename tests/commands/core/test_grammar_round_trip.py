"""The command-line grammar: any words, quoted as `quote` says, read back as themselves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from commands.core.grammar import Word, quote, tokenize
from tests.harness import Chat

# Any text but the double quotes themselves, which the grammar has no escape for.
_TEXT = st.text(
    alphabet=st.characters(blacklist_characters='"“”', blacklist_categories=("Cs",)), max_size=20
)


@given(st.lists(_TEXT, max_size=8))
def test_any_words_quoted_and_joined_read_back_as_themselves(words: list[str]) -> None:
    line = " ".join(quote(w) for w in words)
    assert tokenize(line) == words


@given(st.lists(_TEXT, min_size=1, max_size=8))
def test_always_quoting_reads_back_and_marks_every_word_quoted(words: list[str]) -> None:
    read = tokenize(" ".join(f'"{w}"' for w in words))
    assert read == words
    assert all(isinstance(w, Word) and w.quoted for w in read)


def test_an_option_with_a_quoted_value_is_an_option_not_text() -> None:
    [word] = tokenize('to="Index Coop"')
    assert word == "to=Index Coop" and not word.quoted
    [text] = tokenize('"to=Index Coop"')
    assert text == "to=Index Coop" and text.quoted


async def test_a_quoted_option_value_with_spaces_is_read_as_documented(chat: Chat) -> None:
    await chat.ok('/dri set "Smart contract review" @bob')
    planned = await chat.ok('/handoff plan "Smart contract review" near to="Index Coop"')
    assert "proposed (set → ic" in planned.reply
    requested = await chat.ok('/review request https://x.org/1 "T" org="Index Coop"')
    assert "requested from Index Coop" in requested.reply
