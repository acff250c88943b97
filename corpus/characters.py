"""Characters: the cast of a book, as discovered mentions clustered into aliases or read from a CSV."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

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


def unique_slugs(names: list[str]) -> list[str]:
    """Slugs of the names, suffixed -2, -3, ... where two would collide."""
    used: set[str] = set()
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
class _Name:
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
DESCRIPTORS = {"Old", "Young", "Poor", "Dear"}  # words before a name that are not a given name
MIN_DESCRIPTION_COUNT = 5  # "the Hatter" must recur this often to count as a name
NAME_PARTICLES = {"de", "van", "von", "der", "da", "di", "du", "la", "le", "d'"}


def _parse_name(text: str) -> _Name | None:
    words = [w for w in re.split(r"\s+", text.strip().rstrip(".,;:!?")) if w]
    if words and words[-1].endswith(("'s", "\u2019s")):
        words[-1] = words[-1][:-2]
    words = [w for w in words if w and w[0].isalpha()]
    words = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]  # "Scrooge Scrooge" (a repeated call)
    if len(words) > 1 and words[0] in DESCRIPTORS:  # "Old Marley" is Marley
        words = words[1:]
    if len(words) in (2, 3) and words[0].lower() == "the" and all(w[0].isupper() for w in words[1:]):
        return _Name("the " + " ".join(words[1:]), None, None, None)  # "the Hatter", "the Mock Turtle"
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
    return _Name(" ".join(shown + words), title, given, surname)


def _given_key(given: str | None) -> str | None:
    return DIMINUTIVES.get(given.lower(), given.lower()) if given else None


def _cluster_gender(cluster: list[_Name]) -> str | None:
    return next((n.gender for n in cluster if n.gender), None)


def _join_target(name: _Name, clusters: list[list[_Name]], one_gender_surnames: set[str]) -> list[_Name] | None:
    """The one cluster a name belongs to, or None (then it starts its own).

    `one_gender_surnames`: surnames whose titled forms ("Mr. X", "Uncle X") all carry one gender, so
    such a form may join the one full name with that surname ("Mr. Marley" -> "Jacob Marley").
    """
    same = [c for c in clusters if any(n.text == name.text for n in c)]
    if same:
        return same[0]
    if name.given is None and name.surname is None:  # a descriptive name joins nothing
        return None
    key = _given_key(name.given)
    if name.given and name.surname:
        match = [c for c in clusters if any(_given_key(n.given) == key and n.surname == name.surname for n in c)
                 and _cluster_gender(c) in (None, name.gender or _cluster_gender(c))]
    elif name.surname:  # titled single word: "Lady Catherine" joins "Lady Catherine de Bourgh"
        match = [c for c in clusters if any(n.title == name.title and n.given == name.surname for n in c)]
        if not match and name.surname in one_gender_surnames:  # "Mr. Scrooge" joins "Ebenezer Scrooge"
            match = [c for c in clusters if any(n.given and n.surname == name.surname for n in c)]
            # a woman's title joins a full name known to be a woman's only ("Mrs. Smith" is often John Smith's wife)
            allowed = (name.gender,) if name.gender == "female" else (None, name.gender)
            match = match if len(match) == 1 and _cluster_gender(match[0]) in allowed else []
        if not match and name.title in GIVEN_NAME_TITLES:  # "Uncle Reggie" joins "Reggie St Cloud"
            match = [c for c in clusters if any(n.given and n.surname and n.given == name.surname for n in c)]
    else:  # a bare word: a given name (or diminutive), else a surname used alone
        match = [c for c in clusters if any(_given_key(n.given) == key for n in c)]
        if len(match) > 1:  # the most mentioned bearer of the given name
            match = [max(match, key=lambda c: sum(n.count for n in c))]
        if not match:
            match = [c for c in clusters if any(n.surname == name.given for n in c)
                     and _cluster_gender(c) != "female"]
            if len(match) > 1:  # a bare surname is the family's most mentioned man
                match = [max(match, key=lambda c: sum(n.count for n in c))]
        if not match:  # ... or the family's only member ("Bartlett" is Miss Bartlett; not always right)
            match = [c for c in clusters if any(n.surname == name.given for n in c)]
        if not match:  # "Ghost" joins "the Ghost"
            match = [c for c in clusters if any(n.text == "the " + name.given for n in c)]
    return match[0] if len(match) == 1 else None


def cluster_names(counts: dict[str, int]) -> list[tuple[str, list[str], str | None, int]]:
    """Cluster surface names into (main name, aliases, gender, count) entries, most mentioned first.

    Full names anchor clusters; "Mr. X", "Mrs. X", "Miss X" stay apart (they are different people
    as often as not), but where every titled "X" form has one gender, they join the one full name
    with surname X ("Mr. Marley" -> "Jacob Marley"); "Lady Catherine" joins "Lady Catherine de
    Bourgh", "Uncle Reggie" the one full name with given name Reggie; a bare given name (or
    diminutive) joins the one cluster with that given name, a bare surname the family's most
    mentioned man, a bare "Ghost" the description "the Ghost".
    """
    names: dict[str, _Name] = {}
    for text, count in counts.items():
        parsed = _parse_name(text)
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
    clusters: list[list[_Name]] = []

    def phase(name: _Name) -> int:
        return 0 if name.given and name.surname else 1 if name.surname else 2 if name.given is None else 3

    for name in sorted(names.values(), key=lambda n: (phase(n), -n.count)):
        target = _join_target(name, clusters, one_gender)
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


def honorific_names(text: str) -> dict[str, int]:
    """Counts of honorific names ("Mr. Bennet", "Lady Catherine") in the text; longer titled names
    ("Sir Walter Elliot") come from the PERSON entities, as the next capitalised word may start a sentence."""
    counts: dict[str, int] = {}
    for m in HONORIFIC_NAME.finditer(text):
        words = m.group("name").split()
        name = f"{m.group('title')} {' '.join(words)}"
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


def discover_characters(
    person_mentions: dict[str, int], text: str, min_mentions: int, max_characters: int
) -> list[Character]:
    """Characters from PERSON mention counts plus honorific names found in the text."""
    counts = dict(person_mentions)
    for name, count in honorific_names(text).items():
        counts[name] = max(counts.get(name, 0), count)
    for name, count in capitalised_descriptions(text).items():
        if count >= MIN_DESCRIPTION_COUNT:
            counts[name] = max(counts.get(name, 0), count)
    entries = [e for e in cluster_names(counts) if e[3] >= min_mentions][:max_characters]
    return make_cast(entries)
