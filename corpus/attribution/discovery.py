"""Cast discovery: the names a book uses for its characters (spaCy PERSON mentions, honorific names,
names in speech tags, descriptions that speak), cleaned of places and common words, clustered into
Characters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from corpus.attribution.characters import Character, make_cast
from corpus.attribution.names import (
    HONORIFIC_NAME,
    NAME_PARTICLES,
    NOT_NAMES,
    SURNAME_TITLES,
    TITLES,
    Together,
    cluster_names,
    co_mentions,
)
from corpus.attribution.speech_verbs import TAG_VERB_PATTERN

MIN_DESCRIPTION_COUNT = 5  # "the Hatter" must recur this often to count as a name
MIN_DESCRIPTION_TAGS = 2  # ... and speak in this many speech tags ("the English", "the Marabar" do not)
TITLED_BEFORE = re.compile(r"\b(?:" + "|".join(TITLES) + r")\.?\s+$")  # "Mrs. " before a name


def honorific_names(text: str) -> dict[str, int]:
    """Counts of honorific names ("Mr. Bennet", "Lady Catherine") in the text, with a second word when
    the two are a full name the text also writes without a title ("Mrs. John Dashwood", where "John
    Dashwood" is her husband); other longer titled names ("Sir Walter Elliot") come from the PERSON
    entities, as the next capitalised word may start a sentence."""
    counts: dict[str, int] = {}
    untitled: dict[str, bool] = {}
    for m in HONORIFIC_NAME.finditer(text):
        name = f"{m.group('title')} {m.group('name')}"
        full = f"{m.group('name')} {m.group('surname')}" if m.group("surname") else None
        if full is not None and full not in untitled:  # a full name the text also uses without a title
            bare = re.finditer(r"\b" + r"\s+".join(map(re.escape, full.split())) + r"\b", text)
            untitled[full] = any(not TITLED_BEFORE.search(text, max(u.start() - 20, 0), u.start()) for u in bare)
        if full is not None and untitled[full]:
            name = f"{m.group('title')} {full}"  # "Mrs. John Dashwood" is not "Mrs. John"
        counts[name] = counts.get(name, 0) + 1
    return counts


THE_NAME = re.compile(r"(?<=[a-z,;] )the ((?:[A-Z][a-z]+)(?: [A-Z][a-z]+)?)\b")


def capitalised_descriptions(text: str) -> dict[str, int]:
    """Counts of mid-sentence capitalised descriptions used as names ("said the Hatter")."""
    counts: dict[str, int] = {}
    for m in THE_NAME.finditer(text):
        name = "the " + m.group(1)
        counts[name] = counts.get(name, 0) + 1
    return counts


SENTENCE_END = tuple('.!?"\u201c\u201d\u2018\u2019\':;([')  # a word after these may be capitalised for its position
ROMAN_NUMERAL = re.compile(r"[IVXLC]+\.?")
LOWERCASE_RATIO = 2  # a word written lowercase over this many times as often as capitalised mid-sentence is no name
PLACE_WORDS = {"in", "at", "to", "from", "near", "into", "towards", "toward", "reach", "reached", "leave", "left",
               "through", "past", "round"}  # words before a place name ("at Hetton", "to Bath", "in the Rue")
MIN_PLACE_COUNT = 2  # rarer names are not checked (discovery drops most of them anyway)
PLACE_SHARE = 0.3  # names after PLACE_WORDS this often are places (people: at most 0.16 on PDNC)


@dataclass
class WordStats:
    """Per word of a text: lowercase count, mid-sentence capitalised count (or after a title), and
    count before "'t" in any case ("Didn't", "don't", "didn t" where the apostrophe was lost)."""

    lower: dict[str, int] = field(default_factory=dict)
    capital: dict[str, int] = field(default_factory=dict)
    negated: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str) -> WordStats:
        stats = cls()
        previous = "."
        tokens = text.split()
        for i, token in enumerate(tokens):
            word = re.match(r"[^A-Za-z]*([A-Za-z]+)(['\u2019]t\b)?", token)
            if word:
                w = word.group(1)
                if word.group(2) or word.end() == len(token) and tokens[i + 1:i + 2] == ["t"]:  # "didn t"
                    stats.negated[w.lower()] = stats.negated.get(w.lower(), 0) + 1
                if w.islower():
                    stats.lower[w] = stats.lower.get(w, 0) + 1
                elif w[0].isupper() and (not previous.endswith(SENTENCE_END) or previous.rstrip(".") in TITLES):
                    stats.capital[w] = stats.capital.get(w, 0) + 1
            previous = token
        return stats

    def is_contraction(self, word: str) -> bool:
        """Whether a word is mostly the stem of a negation ("Didn", "Don")."""
        uses = self.lower.get(word.lower(), 0) + self.capital.get(word, 0)
        return self.negated.get(word.lower(), 0) * 2 > uses

    def mid_sentence_capitals(self, word: str) -> int:
        """How often the word is capitalised mid-sentence or after a title ("Grant-Menzies" counts as "Grant")."""
        return self.capital.get(word.split("-")[0], 0)

    def is_name_word(self, word: str) -> bool:
        """Whether a word is written like a name: capitalised mid-sentence and rarely lowercase ("Gives",
        "Didn", "Nature" are not, nor "Hush" or "Hitherto", capitalised only where a sentence starts)."""
        capital = self.mid_sentence_capitals(word)
        return len(word) > 1 and word[0].isupper() and capital > 0 and self.lower.get(
            word.split("-")[0].lower(), 0) <= LOWERCASE_RATIO * capital


def places(names: list[str], text: str) -> set[str]:
    """The untitled names that follow PLACE_WORDS in at least PLACE_SHARE of their occurrences."""
    names = [n for n in names if n.split()[0].rstrip(".") not in TITLES]
    if not names:
        return set()
    alternatives = "|".join(r"\s+".join(map(re.escape, n.split())) for n in sorted(names, key=len, reverse=True))
    seen: dict[str, list[int]] = {}
    for m in re.finditer(rf"(?:\b(\w+)\s+)?(?<![\w.-])({alternatives})(?!\w)", text):
        tally = seen.setdefault(" ".join(m.group(2).split()), [0, 0])
        tally[0] += (m.group(1) or "").lower() in PLACE_WORDS
        tally[1] += 1
    return {n for n, (placed, total) in seen.items() if placed >= PLACE_SHARE * total}


def _trim_name(name: str, stats: WordStats) -> str:
    """A PERSON text without its edge words that are not names ("Holmes Gives" -> "Holmes",
    "Hitherto Gino" -> "Gino", "CHAPTER XVI" -> ""); "" when no name word is left. Titles and particles
    stay; a single word stays unless it is a negation stem or never capitalised mid-sentence ("Hush!",
    "Looky here"), however often it is also written lowercase ("Nanny" and "nanny")."""
    words = name.split()
    if len(words) == 1:
        return "" if stats.is_contraction(name) or not stats.mid_sentence_capitals(name) else name
    keep = [w in TITLES or w.rstrip(".") in TITLES or w in NAME_PARTICLES
            or stats.is_name_word(re.sub(r"['\u2019]s$|[^A-Za-z'-]", "", w)) for w in words]
    first = next((i for i, k in enumerate(keep) if k), len(words))
    last = next((i for i in range(len(words) - 1, -1, -1) if keep[i]), -1)
    words = words[first:last + 1]
    while words and words[-1].rstrip(".") in TITLES:  # nothing left after the title
        words.pop()
    return "" if len(words) == 1 and ROMAN_NUMERAL.fullmatch(words[0]) else " ".join(words)


def _is_plural_family(name: str, count: int, last_words: dict[str, int]) -> bool:
    """"the Emersons", "Miss Musgroves": a family, not one character, where the singular surname is
    the more frequent (but "Jane Andrews" may be one, and "Mrs. Braddocks" a misspelt one)."""
    *before, last = name.split()
    last = last.rstrip("'\u2019")
    plain = all(w.lower() == "the" or w.rstrip(".") in TITLES for w in before)
    return plain and last.endswith("s") and last_words.get(last[:-1], 0) > count


def _run_together(name: str, given_names: set[str], surnames: set[str], names: set[str]) -> bool:
    """Two names run together in one PERSON text ("Brenda John", "Mr. Elliot Anne", "Rushworth Maria
    Bertram"): the last of two or more untitled words is only a given name, or a surname comes
    before another full name."""
    words = [w for w in name.split() if w.rstrip(".") not in TITLES]
    return (len(words) > 1 and words[-1] in given_names - surnames
            or len(words) > 2 and words[0] in surnames and " ".join(words[1:]) in names)


def clean_names(counts: dict[str, int], stats: WordStats, text: str,
                speakers: frozenset[str] | set[str] = frozenset()) -> dict[str, int]:
    """Name counts with non-name edge words trimmed, and names run together, places and family
    plurals dropped; `speakers` (names in speech tags) are people, whatever words precede them
    ("said to Veronica")."""
    cleaned: dict[str, int] = {}
    for name, count in counts.items():
        trimmed = name if name.lower().startswith("the ") else _trim_name(name, stats)
        if trimmed:
            cleaned[trimmed] = cleaned.get(trimmed, 0) + count
    last_words: dict[str, int] = {}
    for name, count in cleaned.items():
        last_words[name.split()[-1]] = last_words.get(name.split()[-1], 0) + count
    given_names = {n.split()[0] for n in cleaned
                   if len(n.split()) > 1 and n.split()[0].rstrip(".") not in TITLES and not n.startswith("the ")}
    surnames = {n.split()[-1] for n in cleaned if n.split()[0].rstrip(".") in SURNAME_TITLES}
    dropped = places([n for n, c in cleaned.items() if c >= MIN_PLACE_COUNT and n not in speakers], text)
    dropped |= {n for n in cleaned if _run_together(n, given_names, surnames, set(cleaned))}
    return {n: c for n, c in cleaned.items() if not _is_plural_family(n, c, last_words) and n not in dropped}


TAGGED_NAME = re.compile(  # a whole word: not "Th" of a mangled "Th?r?se"
    rf"\b(?:{TAG_VERB_PATTERN}) ([A-Z][a-z]+)(?![\w'\u2019]|\?\w)"
    rf"|(?<![^\s\"\u201c])([A-Z][a-z]+) (?:{TAG_VERB_PATTERN})\b")
MIN_TAG_COUNT = 3  # a word must name the speaker of this many speech tags ("said Montoya")


def tagged_names(text: str, stats: WordStats) -> dict[str, int]:
    """Single words that name speakers in speech tags ("said Montoya", "Edna said") at least
    MIN_TAG_COUNT times, with their mid-sentence capitalised counts (spaCy misses some names)."""
    tags: dict[str, int] = {}
    for m in TAGGED_NAME.finditer(text):
        word = m.group(1) or m.group(2)
        tags[word] = tags.get(word, 0) + 1
    return {w: max(n, stats.capital.get(w, 0)) for w, n in tags.items()
            if n >= MIN_TAG_COUNT and w not in TITLES and w not in NOT_NAMES and stats.is_name_word(w)}


def speech_tags(description: str, text: str) -> int:
    """Speech tags naming a description as the speaker ("said the Hatter", "the Hatter replied")."""
    words = re.escape(description[4:])
    return len(re.findall(rf"\b(?:{TAG_VERB_PATTERN}) the {words}\b|\b[Tt]he {words},? (?:{TAG_VERB_PATTERN})\b", text))


def discover_characters(
    person_mentions: dict[str, int], text: str, min_mentions: int, max_characters: int,
    together: Together | None = None,
) -> list[Character]:
    """Characters from PERSON mention counts plus honorific names, speech-tag names and speaking
    descriptions found in the text, cleaned (see `clean_names`) and clustered (see `cluster_names`;
    `together` is the text's `co_mentions`, built here unless the caller shares one)."""
    stats = WordStats.of(text)
    counts = dict(person_mentions)
    for name, count in honorific_names(text).items():
        counts[name] = max(counts.get(name, 0), count)
    speakers = tagged_names(text, stats)
    for name, count in speakers.items():
        counts[name] = max(counts.get(name, 0), count)
    for name, count in capitalised_descriptions(text).items():
        if count >= MIN_DESCRIPTION_COUNT and speech_tags(name, text) >= MIN_DESCRIPTION_TAGS:
            counts[name] = max(counts.get(name, 0), count)
    clusters = cluster_names(clean_names(counts, stats, text, set(speakers)), together or co_mentions(text))
    return make_cast([e for e in clusters if e[3] >= min_mentions][:max_characters])
