"""Character names: parsing ("Mr. Bennet": title, given name, surname) and clustering the names of one
book into characters with their aliases ("Lizzy" is Elizabeth Bennet)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

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
# words that end no person's name; a form of address alone ("Lady", "Mister") is a title without its bearer
NOT_NAMES = {"God", "Heaven", "Lord", "Sir", "Madam", "Chapter", "CHAPTER", "Mamma", "Papa", "Mama", "Ma", "Pa",
             "Oh", "Ah", "Yes", "No", "Well", "Good", "Dear", "Why", "What", "Miss", "Mrs", "Mr", "I", "The",
             "Lady", "Mister", "Madame", "Mademoiselle"}


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


