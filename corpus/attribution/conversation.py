"""Conversation sieves for quotations without a tag: same-paragraph continuation, turn-taking
(A, B, A, B ...), vocatives ("Jane, ..." is addressed to Jane, so Jane is not speaking), addressees."""

from __future__ import annotations

import re

from corpus.attribution.context import BookContext, Guess

VOCATIVE_BEFORE = re.compile(r"(^|[,;:!?\u2014-]|\b(?:dear|my|oh|o|ah|well|yes|no))\s*$", re.IGNORECASE)
VOCATIVE_AFTER = re.compile(r"^\s*([,!?.;:\u2014-]|$)")
# Forms of address that tell the addressee's gender without a name ("Yes, ma'am." / "..., my boy?").
GENDERED_ADDRESS = {
    "female": ("ma'am", "ma’am", "madam", "madame", "mademoiselle", "miss", "my lady", "your ladyship", "mamma",
               "mama", "mother", "aunt", "my girl", "my dear girl", "sister", "mrs"),
    "male": ("sir", "my lord", "your lordship", "monsieur", "signor", "papa", "father", "uncle", "my boy", "my lad",
             "old man", "old fellow", "old chap", "my dear fellow", "brother", "mister", "master"),
}
_ADDRESS = re.compile(
    r"(?:^|[,;:!?\u2014-]|\b(?:dear|oh|o|ah|well|yes|no|thank you|thanks))\s*\b("
    + "|".join(re.escape(w) for ws in GENDERED_ADDRESS.values() for w in sorted(ws, key=len, reverse=True))
    + r")\s*(?:[,!?.;:\u2014-]|$)", re.IGNORECASE)
_ADDRESS_GENDER = {w: g for g, ws in GENDERED_ADDRESS.items() for w in ws}
# Turns read each way for a quotation's addressees: more turns find more of a group scene's addressees,
# and fewer right ones. On PDNC, gold spans and cast: P/R/F1 0.73/0.61/0.67 at 4 (0.71/0.66/0.68 at 6 in
# a development run); naming only one neighbouring turn's speaker gave 0.84/0.42/0.56.
ADDRESSEE_TURNS = 4


def vocatives(ctx: BookContext, qi: int) -> list[str]:
    """Cast members addressed by name in the quotation ("Lizzy, ...", "..., Mr. Darcy!")."""
    found: dict[str, None] = {}
    for start, end in ctx.quotations[qi].parts:
        for m in ctx.mentions_between(start, end):
            before = ctx.text[max(start, m.start - 12) : m.start]
            after = ctx.text[m.end : min(end, m.end + 3)]
            if VOCATIVE_BEFORE.search(before) and VOCATIVE_AFTER.match(after):
                found.setdefault(m.slug, None)
    return list(found)


def addressed_gender(ctx: BookContext, qi: int) -> str | None:
    """The gender a quotation's unnamed forms of address give its addressee ("No, sir." -> male);
    None when there are none or they disagree."""
    genders = {_ADDRESS_GENDER[m.group(1).lower()] for start, end in ctx.quotations[qi].parts
               for m in _ADDRESS.finditer(ctx.text, start, end)}
    return genders.pop() if len(genders) == 1 else None


def in_conversation(ctx: BookContext, earlier: int, later: int, max_gap: int) -> bool:
    """Whether two quotations are turns of one exchange: at most `max_gap` paragraphs apart."""
    a = ctx.paragraph_of(ctx.quotations[earlier].end - 1)
    b = ctx.paragraph_of(ctx.quotations[later].start)
    return b - a <= max_gap


def _recent_character(ctx: BookContext, qi: int, exclude: set[str], window_paragraphs: int) -> str | None:
    q = ctx.quotations[qi]
    start = ctx.paragraphs[max(ctx.paragraph_of(q.start) - window_paragraphs, 0)][0]
    for in_quote in (False, True):
        for m in reversed(ctx.mentions_between(start, q.start)):
            if m.in_quote == in_quote and m.slug not in exclude:
                return m.slug
    return None


def turn_guess(ctx: BookContext, qi: int, max_gap: int, window_paragraphs: int) -> Guess | None:
    """A speaker for an untagged quotation from the turns around it."""
    own_vocatives = set(vocatives(ctx, qi))
    prev_ = [i for i in (qi - 1, qi - 2) if i >= 0 and ctx.guesses[i] and ctx.guesses[i].speaker]
    if qi >= 1 and ctx.guesses[qi - 1] and ctx.guesses[qi - 1].speaker and in_conversation(ctx, qi - 1, qi, max_gap):
        last = ctx.guesses[qi - 1].speaker
        if ctx.paragraph_of(ctx.quotations[qi - 1].end - 1) == ctx.paragraph_of(ctx.quotations[qi].start):
            return Guess(last, "implicit", "same-paragraph")
        if qi >= 2 and (qi - 2) in prev_ and in_conversation(ctx, qi - 2, qi - 1, max_gap):
            before = ctx.guesses[qi - 2].speaker
            if before != last and before not in own_vocatives:
                return Guess(before, "implicit", "turn-taking")
        addressed = [s for s in vocatives(ctx, qi - 1) if s != last and s not in own_vocatives]
        if addressed:
            return Guess(addressed[0], "implicit", "turn-vocative")
        other = _recent_character(ctx, qi, own_vocatives | {last}, window_paragraphs)
        if other:
            return Guess(other, "implicit", "turn-recent")
    nxt = qi + 1
    if nxt + 1 < len(ctx.quotations) and all(ctx.guesses[i] and ctx.guesses[i].speaker for i in (nxt, nxt + 1)):
        if in_conversation(ctx, qi, nxt, max_gap) and in_conversation(ctx, nxt, nxt + 1, max_gap):
            after, after2 = ctx.guesses[nxt].speaker, ctx.guesses[nxt + 1].speaker
            if after != after2 and after2 not in own_vocatives:
                return Guess(after2, "implicit", "turn-taking-next")
    other = _recent_character(ctx, qi, own_vocatives, window_paragraphs)
    if other:
        return Guess(other, "implicit", "recent-mention")
    return None


def exchange_turns(ctx: BookContext, qi: int, max_gap: int, reach: int) -> list[int]:
    """The quotations of quotation `qi`'s exchange, each linked turn by turn to it and at most `reach`
    turns away: the earlier ones nearest first, then the later ones nearest first."""
    turns = []
    for step in (-1, 1):
        i = qi
        while 0 <= i + step < len(ctx.quotations) and abs(i + step - qi) <= reach and in_conversation(
                ctx, min(i, i + step), max(i, i + step), max_gap):
            i += step
            turns.append(i)
    return turns


def addressees(ctx: BookContext, qi: int, speaker: str | None, max_gap: int) -> list[str]:
    """Who a quotation is spoken to: the characters it addresses by name, and the other speakers of its
    exchange within ADDRESSEE_TURNS turns, nearest first (in a group scene everyone present is spoken
    to, as PDNC annotates it)."""
    found = dict.fromkeys(s for s in vocatives(ctx, qi) if s != speaker)
    for i in sorted(exchange_turns(ctx, qi, max_gap, ADDRESSEE_TURNS), key=lambda i: abs(i - qi)):
        other = ctx.guesses[i].speaker if ctx.guesses[i] else None
        if other and other != speaker:
            found.setdefault(other, None)
    return list(found)


def conversation_blocks(ctx: BookContext, max_gap: int) -> list[list[int]]:
    """Runs of quotations each at most `max_gap` paragraphs after the previous one."""
    blocks: list[list[int]] = []
    for qi in range(len(ctx.quotations)):
        if blocks and in_conversation(ctx, blocks[-1][-1], qi, max_gap):
            blocks[-1].append(qi)
        else:
            blocks.append([qi])
    return blocks


def parity_speaker(ctx: BookContext, block: list[int], pos: int, anchors: dict[int, str],
                   window_paragraphs: int) -> tuple[str | None, int]:
    """The speaker implied by A-B alternation from the nearest anchor of the block, and the distance.

    The anchor's partner is the nearest anchor of the block with another speaker, else whom the
    anchor's quotation (or the one after it) addresses by name, else the last other character named.
    """
    anchored = [p for p, qi in enumerate(block) if qi in anchors]
    if not anchored:
        return None, 0
    nearest = min(anchored, key=lambda p: (abs(p - pos), p > pos))
    speaker = anchors[block[nearest]]
    distance = abs(pos - nearest)
    if distance % 2 == 0:
        return speaker, distance
    partners = sorted((abs(p - nearest), anchors[block[p]]) for p in anchored if anchors[block[p]] != speaker)
    if partners:
        return partners[0][1], distance
    for p in (nearest, nearest + 1, nearest - 1):
        if 0 <= p < len(block):
            named = [s for s in vocatives(ctx, block[p]) if s != speaker]
            if named:
                return named[0], distance
    return _recent_character(ctx, block[nearest], {speaker}, window_paragraphs), distance


def vocative_guess(ctx: BookContext, qi: int, max_gap: int) -> Guess | None:
    """The character the previous turn addressed by name answers it ("..., Lizzy?" / "...")."""
    if qi == 0 or not in_conversation(ctx, qi - 1, qi, max_gap):
        return None
    if ctx.paragraph_of(ctx.quotations[qi - 1].end - 1) == ctx.paragraph_of(ctx.quotations[qi].start):
        return None
    previous = ctx.guesses[qi - 1].speaker if ctx.guesses[qi - 1] else None
    own = set(vocatives(ctx, qi))
    addressed = [s for s in vocatives(ctx, qi - 1) if s != previous and s not in own]
    return Guess(addressed[0], "implicit", "turn-vocative") if addressed else None
