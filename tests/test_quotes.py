"""Quotation spans: straight and curly marks, single-quote dialogue, interruptions, multi-paragraph."""

from __future__ import annotations

from corpus.attribution.quotes import SINGLE_STYLE, Quotation, detect_style, find_quotations, paragraph_spans


def texts(text: str) -> list[str]:
    return [q.text(text) for q in find_quotations(text)]


def test_paragraph_spans_blank_lines_and_single_lines():
    assert paragraph_spans("One\nline.\n\n  Two.\n\n\nThree.") == [(0, 9), (13, 17), (20, 26)]
    assert paragraph_spans("One.\nTwo.\n") == [(0, 4), (5, 9)]


def test_straight_and_curly_double_quotes():
    text = '"Hello," said Anne.\n\n\u201cGood morning,\u201d he replied.'
    assert texts(text) == ["Hello,", "Good morning,"]
    assert [q.paragraph for q in find_quotations(text)] == [0, 1]


def test_offsets_exclude_marks_and_text_joins_parts():
    text = '"My dear," said she, "have you heard?"'
    (q,) = find_quotations(text)
    assert q.parts == ((1, 9), (22, 37))
    assert (q.start, q.end) == (1, 37)
    assert q.text(text) == "My dear, have you heard?"
    assert isinstance(q, Quotation)


def test_interrupted_quote_is_one_utterance_new_paragraph_is_another():
    text = '"No," said Tom; "not I."\n\n"Yes," said Ann.'
    assert texts(text) == ["No, not I.", "Yes,"]


def test_multi_paragraph_quote_without_closing_mark():
    text = '"It began in spring.\n\n"Then summer came," she said.\n\n"Next?"'
    quotations = find_quotations(text)
    assert [q.text(text) for q in quotations] == ["It began in spring. Then summer came,", "Next?"]
    assert len(quotations[0].parts) == 2 and quotations[0].paragraph == 0


def test_nested_single_quotes_stay_inside():
    text = "\"He said 'never' to me,\" she sighed."
    assert texts(text) == ["He said 'never' to me,"]


def test_british_single_quote_dialogue_keeps_apostrophes():
    text = (
        "'I don't know,' said Tom. 'It's the Smiths' dog.'\n\n"
        "'Isn't it?' asked Jane.\n\n'Four o'clock, and the Bennets' carriage,' he said.\n\n'Yes.'"
    )
    assert detect_style(text) is SINGLE_STYLE
    assert texts(text) == ["I don't know, It's the Smiths' dog.", "Isn't it?", "Four o'clock, and the Bennets' carriage,", "Yes."]


def test_curly_single_quote_dialogue():
    text = "\u2018We\u2019re late,\u2019 said Ann.\n\n\u2018Come on.\u2019"
    assert texts(text) == ["We\u2019re late,", "Come on."]


def test_no_quotes():
    assert find_quotations("Plain narration, nobody speaks.") == []
    assert find_quotations("") == []


def test_scare_quotes_and_titles_are_not_utterances():
    text = 'He played "The Magic Flute" on the piano.\n\n"Bravo!" she cried, and called it "divine."'
    assert texts(text) == ["Bravo!"]


def test_indented_letter_is_not_dialogue():
    text = 'She read it aloud.\n\n     "My dear Jane,\n     I write in haste."\n\n"What news!" said Kitty.'
    assert texts(text) == ["What news!"]


def test_the_speech_verb_vocabulary_is_one_set_and_its_subsets():
    from corpus.attribution.speech_verbs import COMMON_TAG_VERBS, SPEECH_VERBS, TAG_VERB_PATTERN, TAG_WORDS

    assert set(COMMON_TAG_VERBS) <= SPEECH_VERBS and TAG_VERB_PATTERN.split("|") == list(COMMON_TAG_VERBS)
    assert {"said", "replied", "cried"} <= TAG_WORDS and not {"and", "then"} & SPEECH_VERBS
