"""The context a line is shown with: the shard's context less its last part when that is the line's speech
tag or names the speaker, which would hand the model the answer right before the target."""

from __future__ import annotations

import re
from typing import Sequence

from corpus.shards import schema

# A paragraph that stops on one of these was interrupted by the quotation: it is the quote's lead-in tag.
LEAD_IN_END = re.compile(r"[,:;\u2014\u2013-]\s*$|[A-Za-z]\s*$")
TITLES = {"mr", "mrs", "miss", "ms", "dr", "sir", "lady", "lord", "the", "madame", "monsieur", "captain"}


def name_words(names: Sequence[str]) -> set[str]:
    """The words that identify a character in text: its names and their parts, without titles."""
    words = {n.strip() for n in names if n.strip()}
    for name in list(words):
        words.update(w for w in re.findall(r"[A-Za-z][\w'-]+", name) if len(w) > 2 and w.casefold() not in TITLES)
    return words


def strip_speech_tag(context: str, lead_in_chars: int = 0, names: Sequence[str] = ()) -> str:
    """`context` without its last part when that is a speech tag or names the speaker.

    The last part is the quotation's lead-in (`Elizabeth replied,`: the shard says how long it is) or, when
    the quotation opens its paragraph, the paragraph before it; a tag, or any last part naming the speaker,
    would hand the model the answer right before the target.
    """
    text = context.rstrip()
    if lead_in_chars:
        head, last = context[: len(context) - lead_in_chars], context[len(context) - lead_in_chars :]
    else:
        breaks = list(schema.PARAGRAPH_BREAK.finditer(text))
        head, last = (text[: breaks[-1].start()], text[breaks[-1].end() :]) if breaks else ("", text)
    words = name_words(names)
    mentions = words and re.search(r"\b(" + "|".join(re.escape(w) for w in sorted(words)) + r")\b", last)
    if last.strip() and (LEAD_IN_END.search(last) or mentions):
        return head.rstrip()
    return text
