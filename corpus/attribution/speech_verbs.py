"""The speech-verb vocabulary of every stage: the verbs of a speech tag, the commonest of them (the
ones cast discovery matches with a regex), and the words that can end a tag between two quoted parts."""

from __future__ import annotations

SPEECH_VERBS = {
    "say", "said", "says", "saying", "reply", "replied", "replies", "cry", "cried", "cries", "ask", "asked",
    "asks", "answer", "answered", "answers", "exclaim", "exclaimed", "exclaims", "return", "returned",
    "continue", "continued", "continues", "add", "added", "adds", "observe", "observed", "observes",
    "remark", "remarked", "remarks", "repeat", "repeated", "whisper", "whispered", "whispers", "murmur",
    "murmured", "shout", "shouted", "call", "called", "inquire", "inquired", "enquire", "enquired",
    "rejoin", "rejoined", "retort", "retorted", "interpose", "interposed", "interrupt", "interrupted",
    "explain", "explained", "declare", "declared", "begin", "began", "go", "went", "resume", "resumed",
    "protest", "protested", "suggest", "suggested", "urge", "urged", "insist", "insisted", "mutter",
    "muttered", "growl", "growled", "sigh", "sighed", "laugh", "laughed", "sob", "sobbed", "scream",
    "screamed", "stammer", "stammered", "demand", "demanded", "respond", "responded", "reply", "pursue",
    "pursued", "observe", "groan", "groaned", "mumble", "mumbled", "snap", "snapped", "thunder", "thundered",
    "gasp", "gasped", "roar", "roared", "cry", "added", "agree", "agreed", "admit", "admitted", "assent",
    "assented", "conclude", "concluded", "confess", "confessed", "persist", "persisted", "tell", "told",
    "think", "thought", "hazard", "hazarded", "venture", "ventured", "sneer", "sneered", "smile", "smiled",
    "grin", "grinned", "nod", "nodded", "reflect", "reflected", "echo", "echoed", "pause", "paused",
    "object", "objected", "argue", "argued", "beg", "begged", "plead", "pleaded", "warn", "warned",
    "announce", "announced", "state", "stated", "write", "wrote", "read", "sing", "sang", "speak", "spoke",
    "correct", "corrected", "chime", "chimed", "put", "struck", "burst", "broke", "exclaim", "observe",
    # verbs of speech found in tags of other Gutenberg novels ('"...," ejaculated he')
    "ejaculated", "queried", "shrieked", "faltered", "uttered", "articulated", "yelled", "moaned", "panted",
    "pronounced", "drawled", "snarled", "hissed", "commanded", "mused", "grumbled", "commented", "ordered",
    "wailed", "chuckled", "blurted", "breathed", "reiterated", "questioned", "assured", "remonstrated",
    "grunted", "implored", "croaked", "interjected", "snorted", "boomed", "entreated", "lisped", "scoffed",
    "tittered", "hinted", "complained", "quavered", "hooted", "chattered", "bellowed", "squeaked", "stuttered",
    "cooed", "barked", "jeered", "taunted", "volunteered", "conceded", "whimpered", "screeched",
    "piped", "chirped", "bawled", "howled", "admonished", "spluttered", "sputtered", "giggled", "simpered",
    "counselled", "counseled", "expostulated", "vociferated", "cautioned", "coaxed", "soothed", "mocked",
    "query", "shriek", "falter", "yell", "moan", "drawl", "snarl", "hiss", "grumble", "comment", "wail",
    "chuckle", "grunt", "implore", "croak", "interject", "snort", "lisp", "scoff", "complain", "quaver",
}

# The commonest speech verbs, in the order of their regex alternation (cast discovery finds "said Montoya"
# and "Edna said" with them; a subset of SPEECH_VERBS).
COMMON_TAG_VERBS = ("said", "says", "asked", "replied", "answered", "cried", "exclaimed", "continued", "added",
                    "whispered", "shouted", "called")
TAG_VERB_PATTERN = "|".join(COMMON_TAG_VERBS)
# Words after which a quoted part is a tag's continuation, not a term quoted inside narration ('"Yes," said
# he, "..."', '"..." he wrote and "..."'): speech verbs, two of writing and reading, and the connectives and
# adverbs that follow a tag.
TAG_WORDS = {"said", "says", "say", "saying", "cried", "asked", "replied", "answered", "exclaimed", "called",
             "whispered", "added", "thought", "wrote", "read", "shouted", "murmured", "muttered", "repeated",
             "and", "then", "but", "or", "out", "again", "softly", "aloud", "quietly", "only"}
