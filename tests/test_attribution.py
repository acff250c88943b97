"""Speaker sieve on hand-written passages, with the real spaCy pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.attribution import AttributionConfig, attribute_book
from corpus.attribution.book import person_mentions
from corpus.attribution.calibration import Calibration, load_calibration
from corpus.attribution.mentions import CastIndex
from corpus.attribution.features import COLUMNS
from corpus.attribution.ranker import SIGNALS, Ranker, Scorer, fit_scorer
from corpus.attribution.characters import Character
from corpus.attribution.tags import _Coverage, _distance
from corpus.errors import CorpusError
from corpus.attribution.nlp import DEFAULT_MODEL, load_nlp, parse_paragraphs
from corpus.attribution.quotes import Quotation, paragraph_spans

CAST = [
    Character("elizabeth-bennet", "Elizabeth Bennet", ["Elizabeth", "Lizzy"], "female"),
    Character("mr-darcy", "Mr. Darcy", ["Darcy"], "male"),
    Character("jane-bennet", "Jane Bennet", ["Jane"], "female"),
]


@pytest.fixture(scope="module")
def nlp():
    return load_nlp()


def attribute(text: str, nlp, **config):
    """The sieve's attributions (the learned re-ranker off, so each rule is seen on its own)."""
    cast = [Character(c.slug, c.name, list(c.aliases), c.gender) for c in CAST]
    config.setdefault("use_ranker", False)
    return attribute_book(text, AttributionConfig(**config), cast=cast, nlp=nlp).attributions


def speakers(text: str, nlp) -> list[tuple[str | None, str]]:
    return [(a.speaker, a.method) for a in attribute(text, nlp)]


def test_explicit_tags_after_and_before_the_verb(nlp):
    text = '"I am tired," said Elizabeth.\n\n"So am I," Mr. Darcy replied.\n\nJane cried, "Wait for me!"'
    assert speakers(text, nlp) == [
        ("elizabeth-bennet", "tag-name"), ("mr-darcy", "tag-name"), ("jane-bennet", "tag-name"),
    ]


def test_tags_in_a_paragraph_of_hundreds_of_quoted_parts(nlp):
    # tag_near looks only at narration within reach of the quotation; each tag still finds its own part
    text = " ".join(f'{"Elizabeth" if i % 2 else "Jane"} said, "Line {i}."' for i in range(300))
    result = attribute(text, nlp)
    assert len(result) == 300
    assert [a.speaker for a in result[:4]] == ["jane-bennet", "elizabeth-bennet"] * 2
    assert {a.method for a in result} == {"tag-name"}


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(1, 40)), min_size=1, max_size=12), st.integers(-50, 600))
def test_distance_and_coverage_agree_with_a_scan_of_every_part(spans, pos):
    parts, end = [], 0
    for gap, length in spans:  # sorted, disjoint parts
        parts.append((end + gap, end + gap + length))
        end = parts[-1][1]
    quotation = Quotation(tuple(parts), 0)
    scan = min(pos - e if pos >= e else abs(s - pos) for s, e in parts)
    assert _distance(quotation, pos, [s for s, _ in parts]) == scan
    others = [Quotation(((s, e),), 0) for s, e in parts[::2]] + [quotation]  # nested and overlapping spans
    assert _Coverage(others)(pos) == any(q.start <= pos < q.end + 1 for q in others)


def test_pronoun_tag_resolves_to_compatible_character(nlp):
    text = ('Elizabeth looked at Mr. Darcy across the room.\n\n'
            '"You are late," he cried.\n\n"I know it," she answered.')
    result = attribute(text, nlp)
    assert [(a.speaker, a.method, a.quote_type) for a in result] == [
        ("mr-darcy", "tag-pronoun", "anaphoric"), ("elizabeth-bennet", "tag-pronoun", "anaphoric"),
    ]


def test_turn_taking_alternates_untagged_quotes(nlp):
    text = ('"Good morning," said Elizabeth.\n\n"Good morning," said Mr. Darcy.\n\n'
            '"Is it not fine?"\n\n"Very fine."')
    assert [s for s, _ in speakers(text, nlp)] == ["elizabeth-bennet", "mr-darcy", "elizabeth-bennet", "mr-darcy"]
    assert speakers(text, nlp)[2][1] == "turn-parity"


def test_vocative_names_the_next_speaker_and_the_addressee(nlp):
    text = ('Elizabeth and Mr. Darcy walked on. Jane followed them.\n\n'
            '"What do you think, Jane?" said Elizabeth.\n\n"I think it will rain."')
    result = attribute(text, nlp)
    assert result[0].addressees == ["jane-bennet"]
    assert result[1].speaker == "jane-bennet" and result[1].method == "turn-vocative"
    assert result[1].addressees == ["elizabeth-bennet"]


def test_in_a_group_scene_everyone_in_the_exchange_is_addressed(nlp):
    text = ('"Shall we walk?" said Elizabeth.\n\n"Gladly," said Jane.\n\n"And I," said Mr. Darcy.\n\n'
            'It rained all the next week.\n\nThey stayed indoors.\n\n"Look, Jane!" said Elizabeth.')
    result = attribute(text, nlp)
    assert result[0].addressees == ["jane-bennet", "mr-darcy"]  # nearest turn first
    assert result[1].addressees == ["elizabeth-bennet", "mr-darcy"]  # the earlier turn first at equal distance
    assert result[3].addressees == ["jane-bennet"]  # a new exchange: only the one named


def test_action_beat_in_the_same_paragraph(nlp):
    text = 'Mr. Darcy bowed. "Your servant, madam."'
    assert speakers(text, nlp) == [("mr-darcy", "beat-name")]


def test_confidence_and_high_precision_mode(nlp):
    text = '"I am tired," said Elizabeth.\n\n"So am I."'
    low = attribute(text, nlp)
    assert all(0.0 <= a.confidence <= 1.0 for a in low)
    assert low[0].confidence > low[1].confidence
    high = attribute(text, nlp, min_confidence=low[0].confidence)
    assert high[0].speaker == "elizabeth-bennet" and high[1].speaker is None


def test_given_quotations_and_discovered_cast(nlp):
    text = ('Mr. Collins came in. Mr. Collins bowed.\n\n"Good day," said Mr. Collins.\n\n'
            'Lydia laughed. Lydia ran off.')
    book = attribute_book(text, nlp=nlp, quotations=[Quotation(((43, 52),), 1)])
    assert [c.name for c in book.characters][:1] == ["Mr. Collins"]
    assert [a.speaker for a in book.attributions] == ["mr-collins"]
    assert book.character("mr-collins").mentions == 3


def test_book_without_quotations(nlp):
    assert attribute_book("Nobody says anything here.", nlp=nlp).attributions == []


def test_introducing_paragraph_names_the_speaker(nlp):
    text = 'Mr. Darcy sat down. At last Elizabeth called out,\n\n"Do not go."'
    assert speakers(text, nlp) == [("elizabeth-bennet", "tag-name")]


def test_first_person_narrator(nlp):
    cast = [Character("jake", "Jake Barnes", ["Jake"], "male"), Character("brett", "Brett Ashley", ["Brett"], "female")]
    lines = ['"Hello, Jake," Brett said.\n\n"Hello," I said. I sat down. I was tired.'] * 6
    text = "\n\n".join(lines)
    book = attribute_book(text, AttributionConfig(use_ranker=False), cast=cast, nlp=nlp)
    assert [a.speaker for a in book.attributions[:2]] == ["brett", "jake"]
    assert book.attributions[1].method == "tag-narrator"


def attribute_exchange(nlp, ranker):
    """Two tagged greetings, then two untagged lines for the ranker to decide."""
    text = ('"Good morning," said Elizabeth.\n\n"Good morning," said Mr. Darcy.\n\n'
            '"Is it not fine?"\n\n"Very fine."')
    cast = [Character(c.slug, c.name, list(c.aliases), c.gender) for c in CAST]
    return attribute_book(text, AttributionConfig(), cast=cast, nlp=nlp, ranker=ranker)


def test_ranker_learns_the_informative_feature_and_reranks(nlp):
    rng = np.random.default_rng(0)

    def examples(n: int) -> list[tuple[np.ndarray, int]]:
        found = []
        for _ in range(n):
            matrix = rng.random((4, len(COLUMNS)))
            gold = int(rng.integers(4))
            matrix[:, COLUMNS.index("all:prev2_speaker")] = 0.0
            matrix[gold, COLUMNS.index("all:prev2_speaker")] = 1.0
            found.append((matrix, gold))
        return found

    scorer = fit_scorer(examples(200))
    assert all(int(np.argmax(scorer.probabilities(m))) == g for m, g in examples(50))  # unseen examples
    book = attribute_exchange(nlp, Ranker(scorer))
    assert [a.speaker for a in book.attributions] == ["elizabeth-bennet", "mr-darcy", "elizabeth-bennet", "mr-darcy"]
    assert book.attributions[2].method in ("ranker", "ranker-parity")
    signals = book.attributions[2].signals
    assert set(signals) == set(SIGNALS) | {"cast_both_sexes"} and signals["cast_both_sexes"] == 0.0  # a clean cast
    assert signals["speaker_share"] == pytest.approx(0.5)  # one of the two named tags is Elizabeth's
    assert signals["margin"] > 0  # the chosen speaker leads the runner-up
    candidates = np.exp(signals["candidates"])  # the log of a count of at least the two speakers
    assert candidates >= 2 and candidates == pytest.approx(round(candidates))


def test_calibration_fit_is_per_rule_accuracy_with_prior():
    calibration = Calibration.fit([("tag-name", {}, True)] * 8 + [("turn-taking", {}, False)] * 2
                                  + [("turn-taking", {}, True)])
    assert calibration.confidence("tag-name") == pytest.approx(0.9)
    assert calibration.confidence("turn-taking") == pytest.approx(0.4)
    assert 0 < calibration.confidence("unknown-rule") < 1


def test_calibration_of_ranker_decisions_is_a_logistic_regression_on_their_signals(tmp_path):
    rng = np.random.default_rng(0)
    outcomes = []
    for _ in range(2000):
        log_odds, agrees = rng.normal(0, 2), float(rng.random() < 0.5)
        correct = rng.random() < 1 / (1 + np.exp(-(log_odds + 2 * agrees - 1)))
        outcomes.append(("ranker", {"log_odds": log_odds, "sieve_agrees": agrees}, bool(correct)))
    calibration = Calibration.fit(outcomes + [("tag-name", {}, True)] * 9 + [("tag-name", {}, False)])
    assert calibration.models["ranker"].weights["log_odds"] == pytest.approx(1.0, abs=0.2)
    assert calibration.models["ranker"].weights["sieve_agrees"] == pytest.approx(2.0, abs=0.3)
    assert calibration.confidence("tag-name") == pytest.approx(10 / 12, abs=1e-4)  # rules without signals: the table
    sure = calibration.confidence("ranker", {"log_odds": 3.0, "sieve_agrees": 1.0})
    unsure = calibration.confidence("ranker", {"log_odds": -1.0, "sieve_agrees": 0.0})
    assert 0.95 < sure < 1 and 0 < unsure < 0.2
    assert 0 < calibration.confidence("ranker", {"log_odds": -5000.0}) < 1e-6  # no overflow
    path = tmp_path / "calibration.json"
    calibration.save(path)
    assert load_calibration(path).confidence("ranker", {"log_odds": 3.0, "sieve_agrees": 1.0}) == pytest.approx(sure)
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.json"]  # written through a temp file, none left


def test_a_named_tag_is_less_sure_when_its_name_is_ambiguous_given_enough_decisions():
    """Each family of rules gets its own logistic model: a named speech tag whose name two characters
    answer to is right less often, and its confidence says so; a rarely fired rule keeps its accuracy."""
    outcomes = ([("tag-name", {"name_ambiguous": 0.0}, True)] * 380 + [("tag-name", {"name_ambiguous": 0.0}, False)] * 20
                + [("tag-name", {"name_ambiguous": 1.0}, True)] * 60 + [("tag-name", {"name_ambiguous": 1.0}, False)] * 40
                + [("beat-name", {"name_ambiguous": 1.0}, True)] * 3 + [("beat-name", {"name_ambiguous": 1.0}, False)])
    calibration = Calibration.fit(outcomes)
    assert set(calibration.models) == {"tag-name"}
    assert calibration.confidence("tag-name", {"name_ambiguous": 0.0}) == pytest.approx(0.95, abs=0.01)
    assert calibration.confidence("tag-name", {"name_ambiguous": 1.0}) == pytest.approx(0.6, abs=0.03)
    assert calibration.confidence("beat-name", {"name_ambiguous": 1.0}) == pytest.approx(4 / 6, abs=1e-4)


def test_unknown_spacy_model_is_a_corpus_error():
    with pytest.raises(CorpusError, match="cannot load spaCy model"):
        load_nlp("no_such_model_xyz")


def test_gated_entity_recognizer_finds_the_same_person_names_as_the_whole_pipeline(nlp):
    import spacy

    text = (Path(__file__).resolve().parents[1] / "data/gutenberg/cache/epub/46/pg46.txt").read_text(encoding="utf-8")
    spans = paragraph_spans(text)[100:400]
    plain = spacy.load(DEFAULT_MODEL, exclude=["lemmatizer"])
    gated_docs, plain_docs = parse_paragraphs(nlp, text, spans), parse_paragraphs(plain, text, spans)
    assert person_mentions(gated_docs) == person_mentions(plain_docs)
    assert sum(person_mentions(gated_docs).values()) > 50
    # the sentences without a proper noun were skipped: entities of other kinds ("two", "Christmas") are fewer
    assert sum(len(d.ents) for d in gated_docs) < sum(len(d.ents) for d in plain_docs)
    assert all(d.tensor.size == 0 for d in gated_docs)  # token vectors are not kept


def test_ranker_features_mark_the_neighbouring_paragraphs_speakers(nlp):
    from corpus.attribution.book import prepare_context, run_sieve
    from corpus.attribution.features import FEATURES, candidates_and_features

    text = ('"Good morning," said Elizabeth.\n\n"Is it not fine?"\n\n"Very fine," said Mr. Darcy.')
    config = AttributionConfig(use_ranker=False)
    cast = [Character(c.slug, c.name, list(c.aliases), c.gender) for c in CAST]
    ctx = prepare_context(text, config, cast, nlp)
    anchors, parity = run_sieve(ctx, config)
    candidates, matrix = candidates_and_features(ctx, 1, anchors, parity[1], config)
    column = {f: FEATURES.index(f) for f in ("prev_adjacent", "next_adjacent", "next_anchor_adjacent")}
    elizabeth, darcy = candidates.index("elizabeth-bennet"), candidates.index("mr-darcy")
    assert matrix[elizabeth, column["prev_adjacent"]] == 1.0 and matrix[darcy, column["prev_adjacent"]] == 0.0
    assert matrix[darcy, column["next_anchor_adjacent"]] == 1.0 and matrix[elizabeth, column["next_adjacent"]] == 0.0


def test_ranker_features_weigh_the_neighbouring_decisions_by_how_sure_they_are(nlp):
    from corpus.attribution.book import prepare_context, run_sieve
    from corpus.attribution.context import Guess
    from corpus.attribution.features import FEATURES, candidates_and_features, certainty

    text = '"Good morning," said Elizabeth.\n\n"Is it not fine?"\n\n"Very fine."\n\n"Shall we walk?"'
    config = AttributionConfig(use_ranker=False)
    cast = [Character(c.slug, c.name, list(c.aliases), c.gender) for c in CAST]
    ctx = prepare_context(text, config, cast, nlp)
    anchors, parity = run_sieve(ctx, config)
    ctx.guesses[1] = Guess("mr-darcy", "implicit", "ranker", {"log_odds": float(np.log(3.0))})  # probability 0.75
    assert [certainty(ctx, qi) for qi in (0, 1, 3)] == [1.0, pytest.approx(0.75), 0.5]  # tag, ranker, sieve rule
    candidates, matrix = candidates_and_features(ctx, 2, anchors, parity.get(2, (None, 0)), config)
    darcy, elizabeth = candidates.index("mr-darcy"), candidates.index("elizabeth-bennet")
    assert matrix[darcy, FEATURES.index("prev_speaker_sure")] == pytest.approx(0.75)
    assert matrix[elizabeth, FEATURES.index("prev2_speaker_sure")] == 1.0
    assert matrix[elizabeth, FEATURES.index("prev_speaker_sure")] == 0.0


def test_two_pass_ranker_round_trips_and_decodes(nlp, tmp_path):
    def linear(**weights: float) -> Scorer:
        vector = np.zeros(len(COLUMNS))
        for feature, weight in weights.items():
            vector[COLUMNS.index(f"all:{feature}")] = weight
        return Scorer(vector, np.zeros((len(COLUMNS), 2)), np.zeros(2), np.zeros(2))

    ranker = Ranker(linear(parity_even=3.0), linear(next_adjacent=-3.0, prev_adjacent=-3.0))
    ranker.first.hidden[0, 1], ranker.first.out[1] = 0.5, -0.25  # the hidden layer round-trips too
    path = tmp_path / "ranker.json"
    ranker.save(path)
    loaded = Ranker.load(path)
    for saved, read in ((ranker.first, loaded.first), (ranker.refine, loaded.refine)):
        assert all(np.array_equal(getattr(saved, k), getattr(read, k)) for k in ("linear", "hidden", "bias", "out"))
    book = attribute_exchange(nlp, loaded)
    assert [a.speaker for a in book.attributions] == ["elizabeth-bennet", "mr-darcy", "elizabeth-bennet", "mr-darcy"]
    assert book.attributions[2].method.endswith("-parity")
    path.write_text('{"first": {}}')
    with pytest.raises(CorpusError, match="corrupt ranker"):
        Ranker.load(path)


def test_forms_of_address_give_the_addressee_gender(nlp):
    from corpus.attribution.book import prepare_context
    from corpus.attribution.conversation import addressed_gender

    text = ('"Good morning," said Elizabeth.\n\n"Yes, sir, very fine."\n\n"No, ma\'am."\n\n'
            '"Well, sir, and you, madam?"\n\n"Miss Bennet, good day."')
    cast = [Character(c.slug, c.name, list(c.aliases), c.gender) for c in CAST]
    ctx = prepare_context(text, AttributionConfig(use_ranker=False), cast, nlp)
    assert [addressed_gender(ctx, qi) for qi in range(5)] == [None, "male", "female", None, None]


def test_coordinated_speech_verb_takes_the_first_verbs_subject(nlp):
    text = 'Elizabeth rose from her chair, crossed the room and said, "You are right."'
    assert speakers(text, nlp) == [("elizabeth-bennet", "tag-name")]


def test_a_relative_clause_or_participle_speech_verb_takes_its_antecedents_subject(nlp):
    relative = 'The silence was broken by Mr. Darcy, who, on hearing the news, said, "I am glad of it."'
    participle = 'Jane handed the letter to her sister, saying "Read it to me."'
    assert speakers(relative, nlp) == [("mr-darcy", "tag-name")]
    assert speakers(participle, nlp) == [("jane-bennet", "tag-name")]


def test_a_speech_verb_complementing_another_verb_takes_its_subject_and_rarer_speech_verbs_tag(nlp):
    complement = 'Elizabeth could not help saying, "It is very much to his credit."'
    rarer = '"Upon my word!" ejaculated Mr. Darcy.\n\n"Is it true?" Jane queried.'
    assert speakers(complement, nlp) == [("elizabeth-bennet", "tag-name")]
    assert speakers(rarer, nlp) == [("mr-darcy", "tag-name"), ("jane-bennet", "tag-name")]


def test_a_tag_is_read_across_a_line_break_and_through_a_misparsed_apposition(nlp):
    wrapped = '"Not at all, we were only talking," interposed\nDarcy.\n\nJane smiled.'  # a wrapped paragraph
    assert speakers(wrapped, nlp) == [("mr-darcy", "tag-name")]  # "Darcy" parsed as the object
    cast = [Character("hatter", "the Hatter", [], "male"), Character("dormouse", "the Dormouse", [], "male")]
    text = ('"Well, at any rate, the Dormouse said--" the Hatter went on, looking anxiously round to see if he '
            'would deny it too: but the Dormouse denied nothing, being fast asleep.')
    result = attribute_book(text, AttributionConfig(use_ranker=False), cast=cast, nlp=nlp).attributions
    assert [(a.speaker, a.method) for a in result] == [("hatter", "tag-name")]  # "Hatter" parsed as an appos


def test_introducing_paragraph_may_hold_a_quotation_before_its_tag(nlp):
    text = '"We must go," said Jane. Elizabeth looked up at her sister and said:\n\n"Then go."'
    assert speakers(text, nlp) == [("jane-bennet", "tag-name"), ("elizabeth-bennet", "tag-name")]


def test_possessive_subject_is_not_the_speaker(nlp):
    text = "\"What a day!\" said Elizabeth's aunt.\n\n\"It was,\" said Elizabeth."
    result = attribute(text, nlp)
    assert [a.method for a in result] == ["tag-nominal", "tag-name"]  # "aunt" is the subject, not a name


def test_descriptive_tag_names_its_owner_and_tags_give_speaking_shares(nlp):
    from corpus.attribution.book import prepare_context, run_sieve
    from corpus.attribution.features import FEATURES, candidates_and_features

    text = ('"Good evening," said Elizabeth.\n\n"Good evening," said Elizabeth.\n\n'
            'Count Mippipopolous bowed low.\n\n' + "\n\n".join(f'"Line {i}."' for i in range(45)) +
            '\n\n"Wine for everyone," said the count.')
    config = AttributionConfig(use_ranker=False)
    cast = [Character("count-mippipopolous", "Count Mippipopolous", [], "male"),
            Character("elizabeth-bennet", "Elizabeth Bennet", ["Elizabeth"], "female")]
    ctx = prepare_context(text, config, cast, nlp)
    anchors, parity = run_sieve(ctx, config)
    assert ctx.speaking_share == {"elizabeth-bennet": 1.0}
    last = len(ctx.quotations) - 1
    candidates, matrix = candidates_and_features(ctx, last, anchors, parity.get(last, (None, 0)), config)
    count = candidates.index("count-mippipopolous")  # named 46 paragraphs back: a candidate through "count"
    assert matrix[count, FEATURES.index("head_in_name")] == 1.0
    assert matrix[candidates.index("elizabeth-bennet"), FEATURES.index("speaking_share")] == 1.0


def test_description_consensus_reads_whom_the_same_description_nearby_is_given_to(nlp):
    from corpus.attribution.book import prepare_context, run_sieve
    from corpus.attribution.context import Guess
    from corpus.attribution.features import FEATURES, candidates_and_features

    text = ('Dr. Jones, the doctor, came in.\n\n"Sit down," said the doctor.\n\n"Thank you," said Elizabeth.'
            '\n\n"Rest," said the doctor.')
    config = AttributionConfig(use_ranker=False)
    cast = [Character("dr-jones", "Dr. Jones", ["Jones"], "male"), CAST[0]]
    ctx = prepare_context(text, config, cast, nlp)
    anchors, parity = run_sieve(ctx, config)
    column = FEATURES.index("description_consensus")
    for speaker in ("dr-jones", "elizabeth-bennet"):  # the first "said the doctor" decided either way
        ctx.guesses[0] = Guess(speaker, "anaphoric", "ranker")
        candidates, matrix = candidates_and_features(ctx, 2, anchors, parity.get(2, (None, 0)), config)
        assert {c: matrix[i, column] for i, c in enumerate(candidates)} == {
            c: float(c == speaker) for c in candidates}


def test_speakers_known_by_a_description_in_one_scene_join_a_discovered_cast(nlp):
    filler = "\n\n".join("The wind blew over the quay." for _ in range(110))
    text = ('"Good day," said Mr. Marvel.\n\n"Good day to you," said the mariner.\n\n'
            '"Fine weather," said Mr. Marvel.\n\n"Fine indeed," said the mariner.\n\n'
            '"Is it?" said the man.\n\n"It is," said the man.\n\n"Drink this," said the doctor.\n\n'
            '"Stop," said the man with the black beard.\n\n'
            '"Very well," said the man with the black beard, and left.\n\n'
            f'{filler}\n\n"Again," said the doctor.\n\n"Thank you," said Mr. Marvel.')
    book = attribute_book(text, AttributionConfig(use_ranker=False), nlp=nlp)
    described = {c.name for c in book.characters if c.name.startswith("the ")}
    # "the man" fits anyone, unless a phrase follows; the doctor speaks 110 paragraphs apart
    assert described == {"the mariner", "the man with the black beard"}
    assert [(a.speaker, a.method) for a in book.attributions[1:4:2]] == [("the-mariner", "tag-name")] * 2
    by_word = CastIndex(book.characters).by_word
    assert by_word["beard"] == ["the-man-with-the-black-beard"] and "man" not in by_word  # no one's "man"
    given = attribute_book(text, AttributionConfig(use_ranker=False), cast=[Character("mr-marvel", "Mr. Marvel")],
                           nlp=nlp)
    assert [c.slug for c in given.characters] == ["mr-marvel"]  # a given cast is kept as it is


def test_speakers_of_a_long_exchange_stay_candidates(nlp):
    from corpus.attribution.book import prepare_context, run_sieve
    from corpus.attribution.features import FEATURES, candidates_and_features

    lines = ['"Good morning," said Elizabeth.', '"Good morning," said Mr. Darcy.'] + [f'"Line {i}."' for i in range(10)]
    config = AttributionConfig(use_ranker=False)
    cast = [Character(c.slug, c.name, list(c.aliases), c.gender) for c in CAST]
    ctx = prepare_context("\n\n".join(lines), config, cast, nlp)
    anchors, parity = run_sieve(ctx, config)
    candidates, matrix = candidates_and_features(ctx, 11, anchors, parity[11], config)
    column = FEATURES.index("exchange_anchor")
    darcy, elizabeth = candidates.index("mr-darcy"), candidates.index("elizabeth-bennet")
    # both named only in the first two paragraphs; the sieve's alternation puts them 2 and 1 turns back
    assert matrix[darcy, column] == pytest.approx(1 / 3) and matrix[elizabeth, column] == pytest.approx(1 / 2)


def test_beam_and_greedy_decoding_agree_on_a_plain_exchange(nlp):
    from dataclasses import replace

    text = ('"Good morning," said Elizabeth.\n\n"Good morning," said Mr. Darcy.\n\n'
            '"Is it not fine?"\n\n"Very fine."\n\n"Shall we walk?"\n\n"Gladly."')
    ranker = Ranker.load()
    for width in (1, 4):
        cast = [Character(c.slug, c.name, list(c.aliases), c.gender) for c in CAST]
        book = attribute_book(text, replace(AttributionConfig(), beam_width=width), cast=cast, nlp=nlp, ranker=ranker)
        assert [a.speaker for a in book.attributions] == ["elizabeth-bennet", "mr-darcy"] * 3


def test_gender_comes_from_the_pronoun_that_refers_back_in_its_sentence_or_opens_the_next(nlp):
    from corpus.attribution.book import prepare_context

    text = ("Henry looked at Catherine, and she smiled.\n\nHenry sat down; he was tired.\n\n"
            "Henry rose, and he spoke.\n\nCatherine waited until she was called.\n\n"
            "Ronny turned away. He laughed.\n\nRonny bowed. And then he left the room.\n\n"
            'Ronny cried, "Go away!" She went.\n\nRonny sat down. "Go," she said.')
    cast = [Character("henry", "Henry", []), Character("catherine", "Catherine", []), Character("ronny", "Ronny", [])]
    ctx = prepare_context(text, AttributionConfig(use_ranker=False), cast, nlp)
    # the first "she" belongs to Catherine (named between); the last two follow a quotation
    assert ctx.index.gender("henry") == "male" and ctx.index.gender("catherine") == "female"
    assert ctx.index.gender("ronny") == "male"  # no given name to go by: only the next sentences' "he"


def test_gender_falls_back_on_the_given_name_and_the_pronouns_outvote_it(nlp):
    from corpus.attribution.book import prepare_context

    text = "George rose, and she spoke.\n\nGeorge sat down; she was tired.\n\nJohn Thorpe laughed. Marvel ran."
    cast = [Character("george", "George", []), Character("john-thorpe", "John Thorpe", []),
            Character("marvel", "Marvel", []), Character("pye", "Pye", ["Josie Pye"])]
    ctx = prepare_context(text, AttributionConfig(use_ranker=False), cast, nlp)
    assert ctx.index.gender("george") == "female"  # George Eliot: the narration's "she" decides
    assert ctx.index.gender("john-thorpe") == "male" and ctx.index.gender("pye") == "female"
    assert ctx.index.gender("marvel") is None  # a surname, not a given name of either gender


def test_speaker_style_scores_a_line_by_the_words_of_the_speakers_tagged_lines():
    from corpus.attribution.style import SpeakerStyle

    quotes = ["My poor nerves!", "You have no compassion on my poor nerves.", "The weather is fine.",
              "I will walk to Netherfield.", "Oh, my nerves!"]
    style = SpeakerStyle.fit(quotes, {0: "mrs-bennet", 1: "mrs-bennet", 2: "elizabeth", 3: "elizabeth"})
    assert style.log_ratio("mrs-bennet", 4) > 0 > style.log_ratio("elizabeth", 4)  # the untagged line
    assert style.log_ratio("mr-darcy", 4) == 0.0  # no tagged lines: no evidence either way


def test_genders_join_titled_surnames_to_full_names_and_move_bare_surnames_to_the_man():
    from corpus.attribution.regroup import regroup_by_gender
    from corpus.attribution.names import co_mentions

    def cast() -> list[Character]:
        return [Character("catherine-morland", "Catherine Morland", ["Catherine"], "female", 400),
                Character("isabella-thorpe", "Isabella Thorpe", ["Isabella", "Thorpe"], "female", 150),
                Character("henry-tilney", "Henry Tilney", ["Henry"], "male", 120),
                Character("eleanor-tilney", "Eleanor Tilney", ["Eleanor"], "female", 80),
                Character("john-thorpe", "John Thorpe", ["John"], "male", 40),
                Character("miss-tilney", "Miss Tilney", [], "female", 90),
                Character("mr-tilney", "Mr. Tilney", ["Tilney"], "male", 50),
                Character("miss-marianne", "Miss Marianne", [], "female", 9),
                Character("miss-thorpe", "Miss Thorpe", [], "female", 30),
                Character("mrs-thorpe", "Mrs. Thorpe", [], "female", 30)]

    found = {c.slug: {c.name, *c.aliases} for c in regroup_by_gender(cast(), co_mentions(""))}
    assert found["eleanor-tilney"] == {"Eleanor Tilney", "Eleanor", "Miss Tilney"}
    assert found["henry-tilney"] == {"Henry Tilney", "Henry", "Mr. Tilney", "Tilney"}
    assert found["isabella-thorpe"] == {"Isabella Thorpe", "Isabella", "Miss Thorpe"}
    assert found["john-thorpe"] == {"John Thorpe", "John", "Thorpe"}  # the family's man
    assert found["mrs-thorpe"] == {"Mrs. Thorpe"} and found["miss-marianne"] == {"Miss Marianne"}
    # often named in the same paragraphs as Isabella: "Miss Thorpe" is someone else
    text = "\n\n".join(["Miss Thorpe walked with Isabella."] * 5)
    found = {c.slug for c in regroup_by_gender(cast(), co_mentions(text))}
    assert "miss-thorpe" in found and "miss-tilney" not in found


def test_a_titled_name_joins_the_far_more_mentioned_of_two_full_names_and_its_given_name_despite_co_mentions():
    from corpus.attribution.regroup import regroup_by_gender
    from corpus.attribution.names import co_mentions

    cast = [Character("john-dashwood", "John Dashwood", ["John"], "male", 72),
            Character("henry-dashwood", "Henry Dashwood", [], "male", 8),
            Character("mr-dashwood", "Mr. Dashwood", [], "male", 15),
            Character("marianne-dashwood", "Marianne Dashwood", ["Marianne"], "female", 200),
            Character("elinor-dashwood", "Elinor Dashwood", ["Elinor"], "female", 150),
            Character("miss-dashwood", "Miss Dashwood", [], "female", 60),
            Character("miss-marianne", "Miss Marianne", [], "female", 9)]
    text = "\n\n".join(["Miss Marianne smiled."] * 5)  # every paragraph naming her also holds "Marianne"
    found = {c.slug: {c.name, *c.aliases} for c in regroup_by_gender(cast, co_mentions(text))}
    assert found["john-dashwood"] == {"John Dashwood", "John", "Mr. Dashwood"}
    assert found["marianne-dashwood"] == {"Marianne Dashwood", "Marianne", "Miss Marianne"}
    assert "miss-dashwood" in found  # Marianne and Elinor: neither dominates


def test_bundled_given_names_are_what_the_script_builds_from_nomquamgender(tmp_path):
    pytest.importorskip("nomquamgender")
    import runpy

    script = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "given_names.py"))
    assert script["main"](["--out", str(tmp_path / "names.json")]) == 0
    from corpus.attribution.genders import GIVEN_NAMES_FILE
    assert json.loads((tmp_path / "names.json").read_text()) == json.loads(GIVEN_NAMES_FILE.read_text())


def test_a_title_the_character_goes_by_also_precedes_its_full_name():
    from corpus.attribution.mentions import CastIndex, find_mentions

    index = CastIndex([Character("daisy-miller", "Daisy Miller", ["Daisy", "Miss Daisy"], "female", 90),
                       Character("randolph-miller", "Randolph Miller", ["Randolph", "Miller"], "male", 30)])
    text = "Miss Daisy Miller laughed; Miss Daisy smiled at Miller."
    found = [(text[m.start:m.end], m.slug) for m in find_mentions(text, index, [])]
    assert found == [("Miss Daisy Miller", "daisy-miller"), ("Miss Daisy", "daisy-miller"),
                     ("Miller", "randolph-miller")]


def test_a_paragraph_with_a_reply_introduced_by_name_is_two_utterances(nlp):
    reply = ('"Then certainly I won\'t play," said Mr. Darcy. Elizabeth, rising from her chair, added: '
             '"I agree with you. Much better not."')
    one_speaker = '"I am tired," said Jane, "and I will go home." She rose. Jane added: "Good night."'
    result = attribute(reply + "\n\n" + one_speaker, nlp)
    assert [(a.quotation.text(reply), a.speaker) for a in result[:2]] == [
        ("Then certainly I won't play,", "mr-darcy"), ("I agree with you. Much better not.", "elizabeth-bennet"),
    ]
    assert [(len(a.quotation.parts), a.speaker) for a in result[2:]] == [(3, "jane-bennet")]
    given = attribute_book(reply, AttributionConfig(use_ranker=False), cast=[Character(c.slug, c.name, list(
        c.aliases), c.gender) for c in CAST], nlp=nlp, quotations=[Quotation(((1, 29), (85, 119)), 0)])
    assert len(given.attributions) == 1  # quotations the caller gives are kept as they are


def test_a_named_tag_carries_the_evidence_of_a_family_merge_and_its_confidence_falls(nlp):
    """Invented: the cast merged the family's "Mr. Harrow" into Ann Harrow (a woman); a tag naming
    "Mr. Harrow" resolves to her with a title of the other sex, and a calibration that learnt such
    tags go wrong gives it a lower confidence than her own "said Ann"; Tom Vale's cluster is clean."""
    cast = [Character("ann-harrow", "Ann Harrow", ["Ann", "Mr. Harrow"], "female"),
            Character("tom-vale", "Tom Vale", ["Tom"], "male")]
    text = ('Ann Harrow and Tom Vale stood by the gate.\n\n"It is late," said Ann.\n\n'
            '"Then go home," said Mr. Harrow.\n\n"I will," said Tom.')
    calibration = Calibration.fit([("tag-name", {"cast_name_other_sex": 0.0, "cast_both_sexes": 0.0}, True)] * 380
                                  + [("tag-name", {"cast_name_other_sex": 1.0, "cast_both_sexes": 1.0}, False)] * 30
                                  + [("tag-name", {"cast_name_other_sex": 0.0, "cast_both_sexes": 1.0}, True)] * 30)
    named = {a.quotation.text(text): a for a in attribute_book(text, AttributionConfig(use_ranker=False), cast=cast,
                                                               nlp=nlp, calibration=calibration).attributions}
    ann, harrow, tom = named["It is late,"], named["Then go home,"], named["I will,"]
    assert ann.speaker == harrow.speaker == "ann-harrow" and tom.speaker == "tom-vale"
    assert {ann.method, harrow.method, tom.method} == {"tag-name"}
    assert ann.signals == {"cast_both_sexes": 1.0, "cast_name_other_sex": 0.0}
    assert harrow.signals == {"cast_both_sexes": 1.0, "cast_name_other_sex": 1.0}
    assert tom.signals == {"cast_both_sexes": 0.0, "cast_name_other_sex": 0.0}
    assert harrow.confidence < 0.2 < 0.9 < ann.confidence
