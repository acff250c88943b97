"""One paragraph, two speakers: split a paragraph's quotation where a reply starts.

`corpus.attribution.quotes` takes the quoted parts of a paragraph for one utterance ('"...," said he, "..."'),
as PDNC mostly does. Some paragraphs hold a reply too: '"Then I won't play," said Cecil, while Miss
Bartlett added: "I agree with you."'. With the parse at hand, a part starts a new utterance when the
narration before it is a new sentence that names its speaker and introduces it (ends with a speech
verb or ",", ":", a dash), and the part before has a speech tag of a different speaker (another name,
or a pronoun of the other gender). Looser rules split more one-speaker paragraphs than they mend
(measured on PDNC).
"""

from __future__ import annotations

from corpus.attribution.context import BookContext
from corpus.attribution.speech_verbs import SPEECH_VERBS
from corpus.attribution.tags import INTRODUCING_PUNCTUATION, Tag, tag_near
from corpus.attribution.quotes import Quotation


def split_by_speaker(ctx: BookContext, max_chars: int) -> list[Quotation]:
    """The context's quotations, each one-paragraph quotation split where its speakers change."""
    result: list[Quotation] = []
    for qi, quotation in enumerate(ctx.quotations):
        paragraph = ctx.paragraph_of(quotation.start)
        if len(quotation.parts) < 2 or ctx.paragraph_of(quotation.end - 1) != paragraph:
            result.append(quotation)
            continue
        parts = [Quotation((part,), quotation.paragraph) for part in quotation.parts]
        neighbours = [ctx.quotations[i] for i in ctx.paragraph_quotes.get(paragraph, []) if i != qi]
        tags = [tag_near(ctx, part, neighbours + parts[:j] + parts[j + 1:], max_chars)
                for j, part in enumerate(parts)]
        group = [quotation.parts[0]]
        for j in range(1, len(parts)):
            if _introduced(ctx, quotation.parts[j - 1], quotation.parts[j], tags[j]) and _different_speakers(
                    ctx, tags[j - 1], tags[j]):
                result.append(Quotation(tuple(group), quotation.paragraph))
                group = []
            group.append(quotation.parts[j])
        result.append(Quotation(tuple(group), quotation.paragraph))
    return result


def _different_speakers(ctx: BookContext, a: Tag | None, b: Tag | None) -> bool:
    """Two distinct speech tags that cannot name the same speaker."""
    if a is None or b is None or not (a.verb and b.verb) or a.offset == b.offset:
        return False
    if a.kind in ("name", "narrator") and b.kind in ("name", "narrator"):
        return a.slug is not None and b.slug is not None and a.slug != b.slug
    genders = [t.gender if t.kind == "pronoun" else ctx.index.gender(t.slug) if t.kind == "name" else None
               for t in (a, b)]
    return "pronoun" in (a.kind, b.kind) and None not in genders and genders[0] != genders[1]


def _introduced(ctx: BookContext, before: tuple[int, int], after: tuple[int, int], tag: Tag | None) -> bool:
    """A new sentence between two quoted parts names who speaks next and introduces the second part
    ('"No." Miss Bartlett, rising, added: "Yes."'; not '"No," said she, "yes."')."""
    narration = ctx.text[before[1] + 1 : after[0] - 1].strip()
    if not narration:
        return False
    new_sentence = ctx.text[before[1] - 1] in ".!?" and narration[:1].isupper() or any(c in narration for c in ".!?")
    return (new_sentence and tag is not None and tag.kind == "name" and before[1] < tag.offset < after[0]
            and (narration[-1:] in INTRODUCING_PUNCTUATION or narration.split()[-1].lower() in SPEECH_VERBS))
