"""Characters: the cast of a book, as discovered mentions clustered into aliases or read from a CSV."""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from corpus.attribution.speech_verbs import TAG_VERB_PATTERN
from corpus.errors import CorpusError

GENDERS = ("female", "male")
_GENDER_WORDS = {"f": "female", "female": "female", "m": "male", "male": "male"}


@dataclass
class Character:
    """One character of a book: a unique slug, its main name, other names, gender, mention count."""

    slug: str
    name: str
    aliases: list[str] = field(default_factory=list)
    gender: str | None = None  # "female", "male" or None when unknown
    mentions: int = 0

    def names(self) -> list[str]:
        """The main name followed by the aliases, without duplicates."""
        seen: dict[str, None] = {self.name: None}
        for alias in self.aliases:
            seen.setdefault(alias, None)
        return list(seen)


def slugify(name: str) -> str:
    """Lowercase-hyphenated ASCII form of a name ("Elizabeth Bennet" -> "elizabeth-bennet")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "character"


def unique_slugs(names: list[str], taken: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Slugs of the names, suffixed -2, -3, ... where two would collide or one is `taken` already."""
    used = set(taken)
    slugs = []
    for name in names:
        base = slug = slugify(name)
        n = 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        slugs.append(slug)
    return slugs


def normalise_gender(value: str | None) -> str | None:
    """'F'/'female' -> 'female', 'M'/'male' -> 'male', anything else -> None."""
    return _GENDER_WORDS.get((value or "").strip().lower())


def make_cast(entries: list[tuple[str, list[str], str | None, int]]) -> list[Character]:
    """Characters with unique slugs from (name, aliases, gender, mentions) tuples."""
    slugs = unique_slugs([name for name, _, _, _ in entries])
    return [
        Character(slug, name, [a for a in dict.fromkeys(aliases) if a != name], gender, mentions)
        for slug, (name, aliases, gender, mentions) in zip(slugs, entries)
    ]


def read_cast_csv(path: str | Path) -> list[Character]:
    """A curated cast from a CSV with columns name, aliases (';'-separated) and optional gender."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorpusError(f"cannot read cast file {path}: {exc}") from exc
    if not rows or "name" not in rows[0]:
        raise CorpusError(f"cast file {path} needs a header with a 'name' column (and 'aliases', optional 'gender')")
    entries = []
    for line, row in enumerate(rows, start=2):
        name = (row.get("name") or "").strip()
        if not name:
            raise CorpusError(f"cast file {path}, line {line}: empty name")
        aliases = [a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()]
        entries.append((name, aliases, normalise_gender(row.get("gender")), 0))
    return make_cast(entries)


# ---------------------------------------------------------------------------------------------
# Discovery: PERSON mentions and honorific names clustered into characters.

MALE_TITLES = ("Mr", "Mister", "Sir", "Lord", "Captain", "Colonel", "General", "Major", "Admiral", "Dr", "Doctor",
               "Father", "Uncle", "Master", "Monsieur", "Signor", "Herr", "Count", "Prince", "King", "Mynheer")
FEMALE_TITLES = ("Mrs", "Miss", "Lady", "Madam", "Madame", "Mademoiselle", "Mme", "Mlle", "Ms", "Aunt", "Mother",
                 "Sister", "Dame", "Signora", "Signorina", "Frau", "Countess", "Princess", "Queen", "Duchess")
TITLES = {t: "male" for t in MALE_TITLES} | {t: "female" for t in FEMALE_TITLES}
HONORIFIC_NAME = re.compile(
    r"\b(?P<title>" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")\.?\s+(?P<name>[A-Z][\w'-]+)"
    r"(?:[ \t]*\n?[ \t]*(?P<surname>[A-Z][\w'-]+))?"
)
# Common English diminutives, so that "Lizzy" joins "Elizabeth".
DIMINUTIVES = {
    "lizzy": "elizabeth", "lizzie": "elizabeth", "eliza": "elizabeth", "liz": "elizabeth", "beth": "elizabeth",
    "betsy": "elizabeth", "bess": "elizabeth", "kitty": "catherine", "kate": "catherine", "cathy": "catherine",
    "fanny": "frances", "nan": "anne", "nancy": "anne", "annie": "anne", "tom": "thomas", "tommy": "thomas",
    "bill": "william", "billy": "william", "will": "william", "willy": "william", "dick": "richard",
    "bob": "robert", "bobby": "robert", "ned": "edward", "ted": "edward", "teddy": "edward", "harry": "henry",
    "hal": "henry", "jack": "john", "johnny": "john", "jim": "james", "jimmy": "james", "jamie": "james",
    "charlie": "charles", "charley": "charles", "fred": "frederick", "freddy": "frederick", "sam": "samuel",
    "joe": "joseph", "mike": "michael", "nell": "helen", "nelly": "eleanor", "peggy": "margaret",
    "meg": "margaret", "maggie": "margaret", "polly": "mary", "molly": "mary", "sally": "sarah",
    "jenny": "jane", "jeannie": "jean", "sukey": "susan", "sue": "susan", "susie": "susan", "dolly": "dorothy",
    "dora": "dorothy", "lucy": "lucia", "di": "diana", "tony": "anthony", "nick": "nicholas", "ben": "benjamin",
    "dan": "daniel", "matt": "matthew", "pat": "patrick", "rob": "robert", "wat": "walter", "watty": "walter",
}
NOT_NAMES = {"God", "Heaven", "Lord", "Sir", "Madam", "Chapter", "CHAPTER", "Mamma", "Papa", "Mama", "Ma", "Pa",
             "Oh", "Ah", "Yes", "No", "Well", "Good", "Dear", "Why", "What", "Miss", "Mrs", "Mr", "I", "The"}


@dataclass
class ParsedName:
    """A surface name split into title, given names and surname."""

    text: str
    title: str | None
    given: str | None
    surname: str | None
    count: int = 0

    @property
    def gender(self) -> str | None:
        return TITLES.get(self.title) if self.title else None


# Titles that usually precede a given name ("Aunt Polly") rather than a surname. Not "Sir" ("Sir
# Thomas" is Tom Bertram's father) nor "Master" (PDNC's A Handful of Dust: measured to hurt).
GIVEN_NAME_TITLES = {"Uncle", "Aunt"}
COURTESY_TITLES = {"Lady", "Sir", "Lord"}  # titles of courtesy before a given name: "Lady Catherine", "Sir Thomas"
DESCRIPTORS = {"Old", "Young", "Poor", "Dear"}  # words before a name that are not a given name
MIN_DESCRIPTION_COUNT = 5  # "the Hatter" must recur this often to count as a name
MIN_DESCRIPTION_TAGS = 2  # ... and speak in this many speech tags ("the English", "the Marabar" do not)
MIN_TOGETHER, MIN_TOGETHER_SHARE = 3, 0.1  # paragraphs shared by two names of two people (see co_mentions)
TITLE_BEARER_SHARE = 0.8  # "the Major" is the Major X with this share of the "Major ..." mentions
MIN_MR_COUNT = 3  # rarer "Mr. X" forms are a relative in passing ("Mr. Quested" beside Adela Quested)
SURNAME_TITLES = {"Mr", "Mrs", "Ms"}  # titles followed by a surname (not "Miss Anne", "Sir Thomas")
NAME_PARTICLES = {"de", "van", "von", "der", "da", "di", "du", "la", "le", "d'"}


def parse_name(text: str) -> ParsedName | None:
    """A surface name split into title, given name and surname; None if it is no person's name."""
    words = [w for w in re.split(r"\s+", text.strip().rstrip(".,;:!?")) if w]
    if words and words[-1].endswith(("'s", "\u2019s")):
        words[-1] = words[-1][:-2]
    words = [w for w in words if w and w[0].isalpha()]
    words = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]  # "Scrooge Scrooge" (a repeated call)
    if len(words) > 1 and words[0] in DESCRIPTORS:  # "Old Marley" is Marley
        words = words[1:]
    if len(words) in (2, 3) and words[0].lower() == "the" and all(w[0].isupper() for w in words[1:]):
        return ParsedName("the " + " ".join(words[1:]), None, None, None)  # "the Hatter", "the Mock Turtle"
    title = None
    if words and words[0].rstrip(".") in TITLES and len(words) > 1:
        title = words.pop(0).rstrip(".")
    if (not words or len(words) > 4 or words[-1] in NOT_NAMES or not words[0][0].isupper()
            or any(not w[0].isupper() and w not in NAME_PARTICLES for w in words)):
        return None
    surname_at = next((i for i, w in enumerate(words) if w in NAME_PARTICLES), len(words) - 1)
    surname = " ".join(words[surname_at:]) if len(words) > 1 or title else None
    given = words[0] if (len(words) > 1 and surname_at > 0) or not title else None
    shown = [title + "." if title in ("Mr", "Mrs", "Dr", "Ms") else title] if title else []
    return ParsedName(" ".join(shown + words), title, given, surname)


def _given_key(given: str | None) -> str | None:
    return DIMINUTIVES.get(given.lower(), given.lower()) if given else None


def _cluster_gender(cluster: list[ParsedName]) -> str | None:
    return next((n.gender for n in cluster if n.gender), None)


Together = Callable[[str, str], bool]


def _never_together(a: str, b: str) -> bool:
    return False


def co_mentions(text: str) -> Together:
    """Whether two names share at least MIN_TOGETHER paragraphs and MIN_TOGETHER_SHARE of the
    first's paragraphs: then they are two people ("Mr. Emerson" and his son "George")."""
    paragraphs = re.split(r"\n\s*\n", text)

    @functools.cache
    def naming(name: str, dots_optional: bool) -> frozenset[int]:
        """The paragraphs (indexes) that mention `name` ("Mr. Emerson" also as "Mr Emerson")."""
        words = name.replace(".", "").split() if dots_optional else [name]
        pattern = re.compile(r"(?<!\w)" + r"\.?\s+".join(map(re.escape, words)) + r"(?!\w)")
        return frozenset(i for i, p in enumerate(paragraphs) if pattern.search(p))

    def together(a: str, b: str) -> bool:
        with_first = naming(a, True)
        both = len(with_first & naming(b, False))
        return both >= max(MIN_TOGETHER, MIN_TOGETHER_SHARE * len(with_first))

    return together


def _seen_together(name: ParsedName, cluster: list[ParsedName], together: Together) -> bool:
    """Whether the name is often mentioned with a given name of the cluster (then they are two people)."""
    return any(n.given and together(name.text, n.given) for n in cluster)


def _join_target(name: ParsedName, clusters: list[list[ParsedName]], one_gender_surnames: set[str],
                 together: Together = _never_together) -> list[ParsedName] | None:
    """The one cluster a name belongs to, or None (then it starts its own).

    `one_gender_surnames`: surnames whose titled forms ("Mr. X", "Uncle X") all carry one gender, so
    such a form may join the one full name with that surname ("Mr. Marley" -> "Jacob Marley"),
    unless it is often mentioned `together` with that name's given name ("Mr. Emerson", "George").
    A "Mr. X" seen MIN_MR_COUNT times joins the one full name with surname X not known as a woman's.
    """
    same = [c for c in clusters if any(n.text == name.text for n in c)]
    if same:
        return same[0]
    if name.given is None and name.surname is None:  # a description joins nothing but its title's bearer
        return _title_bearer(name, clusters)
    key = _given_key(name.given)
    if name.given and name.surname:
        # "Mrs. Charles Musgrove" is the wife of Charles Musgrove: "Mrs." with a given name joins only its like
        match = [c for c in clusters if any(_given_key(n.given) == key and n.surname == name.surname
                                            and (n.title == "Mrs") == (name.title == "Mrs") for n in c)
                 and _cluster_gender(c) in (None, name.gender or _cluster_gender(c))]
    elif name.surname:  # titled single word: "Lady Catherine" joins "Lady Catherine de Bourgh"
        match = [c for c in clusters if any(n.title == name.title and n.given == name.surname for n in c)]
        if not match and name.surname in one_gender_surnames:  # "Mr. Scrooge" joins "Ebenezer Scrooge"
            match = [c for c in clusters if any(n.given and n.surname == name.surname for n in c)]
            # a woman's title joins a full name known to be a woman's only ("Mrs. Smith" is often John Smith's wife)
            allowed = (name.gender,) if name.gender == "female" else (None, name.gender)
            match = match if len(match) == 1 and _cluster_gender(match[0]) in allowed else []
            if match and _seen_together(name, match[0], together):
                return None
        if not match and name.gender == "male" and name.title in SURNAME_TITLES and name.count >= MIN_MR_COUNT:
            # "Mr. Denham" joins the one full name "Ralph Denham" not known as a woman's, though
            # there is a "Mrs. Denham"
            match = [c for c in clusters if any(n.given and n.surname == name.surname for n in c)
                     and _cluster_gender(c) != "female"]
            if len(match) == 1 and _seen_together(name, match[0], together):
                return None
        if not match and name.title in GIVEN_NAME_TITLES:  # "Uncle Reggie" joins "Reggie St Cloud"
            match = [c for c in clusters if any(n.given and n.surname and n.given == name.surname for n in c)]
    else:  # a bare word: a given name (or diminutive), else a surname used alone
        # not someone called "Lady Catherine" more often than the bare name is used: "Kitty" is another
        match = [c for c in clusters if any(_given_key(n.given) == key for n in c) and not any(
            n.title in COURTESY_TITLES and n.given is None and _given_key(n.surname) == key and n.count > name.count
            for n in c)]
        if len(match) > 1:  # the most mentioned bearer of the given name
            match = [max(match, key=lambda c: sum(n.count for n in c))]
        if not match:
            match = [c for c in clusters if any(n.surname == name.given for n in c)
                     and _cluster_gender(c) != "female"]
            if len(match) > 1:  # a bare surname is the family's most mentioned man
                match = [max(match, key=lambda c: sum(n.count for n in c))]
        if not match:  # ... or the family's only member ("Bartlett" is Miss Bartlett), unless the bare
            # surname is the more frequent ("Fezziwig" is not Mrs. Fezziwig but her husband)
            match = [c for c in clusters if any(n.surname == name.given for n in c)
                     and sum(n.count for n in c) >= name.count]
        if not match:  # "Ghost" joins "the Ghost"
            match = [c for c in clusters if any(n.text == "the " + name.given for n in c)]
    return match[0] if len(match) == 1 else None


def _title_bearer(name: ParsedName, clusters: list[list[ParsedName]]) -> list[ParsedName] | None:
    """The cluster "the Major" stands for: the one whose "Major X" names have TITLE_BEARER_SHARE of
    the mentions of all names with that title (Major Callendar, not Major Roberts), else None."""
    words = name.text.split()
    if len(words) != 2 or words[1] not in TITLES:
        return None
    counts = [(sum(n.count for n in c if n.title == words[1]), i) for i, c in enumerate(clusters)]
    best, i = max(counts, default=(0, 0))
    return clusters[i] if best and best >= TITLE_BEARER_SHARE * sum(n for n, _ in counts) else None


def cluster_names(counts: dict[str, int], together: Together = _never_together
                  ) -> list[tuple[str, list[str], str | None, int]]:
    """Cluster surface names into (main name, aliases, gender, count) entries, most mentioned first.

    Full names anchor clusters; "Mr. X", "Mrs. X", "Miss X" stay apart (they are different people
    as often as not), but where every titled "X" form has one gender, they join the one full name
    with surname X ("Mr. Marley" -> "Jacob Marley"); "Lady Catherine" joins "Lady Catherine de
    Bourgh", "Uncle Reggie" the one full name with given name Reggie; a bare given name (or
    diminutive) joins the one cluster with that given name (not one more often called "Lady
    Catherine" than the bare "Kitty" is used), a bare surname the family's most mentioned man, a
    bare "Ghost" the description "the Ghost". "Mrs. Charles Musgrove" (his wife) stays apart from
    "Charles Musgrove". `together` tells names of two people apart (see `co_mentions`).
    """
    names: dict[str, ParsedName] = {}
    for text, count in counts.items():
        parsed = parse_name(text)
        if parsed:
            parsed.count = count
            if parsed.text in names:
                names[parsed.text].count += count
            else:
                names[parsed.text] = parsed
    genders: dict[str, set[str | None]] = {}
    for n in names.values():
        if n.title and n.surname and n.given is None:
            genders.setdefault(n.surname, set()).add(n.gender)
    one_gender = {surname for surname, found in genders.items() if len(found) == 1}
    clusters: list[list[ParsedName]] = []

    def phase(name: ParsedName) -> int:
        return 0 if name.given and name.surname else 1 if name.surname else 2 if name.given is None else 3

    for name in sorted(names.values(), key=lambda n: (phase(n), -n.count)):
        target = _join_target(name, clusters, one_gender, together)
        if target is None:
            clusters.append([name])
        else:
            target.append(name)
    entries = []
    for cluster in clusters:
        main = max(cluster, key=lambda n: (n.given is not None and n.surname is not None, n.title is None, n.count)
                   if n.given and n.surname else (False, n.title is not None, n.count))
        aliases = sorted({n.text for n in cluster} - {main.text})
        entries.append((main.text, aliases, _cluster_gender(cluster), sum(n.count for n in cluster)))
    return sorted(entries, key=lambda e: -e[3])


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
