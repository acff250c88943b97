"""Characters: slugs, the cast CSV, and alias clustering of discovered names."""

from __future__ import annotations

import pytest

from corpus.attribution.characters import Character, read_cast_csv, slugify, unique_slugs
from corpus.attribution.discovery import WordStats, clean_names, discover_characters, honorific_names
from corpus.attribution.names import cluster_names, co_mentions
from corpus.errors import CorpusError


def clusters(counts: dict[str, int]) -> dict[str, set[str]]:
    return {main: {main, *aliases} for main, aliases, _, _ in cluster_names(counts)}


def test_slugs_are_lowercase_hyphenated_and_unique():
    assert slugify("Elizabeth Bennet") == "elizabeth-bennet"
    assert slugify("Mr. Bennet") == "mr-bennet"
    assert slugify("Zo\u00eb O'Hara") == "zoe-o-hara"
    assert unique_slugs(["Tom", "tom", "Tom"]) == ["tom", "tom-2", "tom-3"]
    assert unique_slugs(["Tom", "Ann"], taken={"tom"}) == ["tom-2", "ann"]


def test_elizabeth_aliases_cluster_and_bennet_parents_stay_apart():
    found = clusters({
        "Elizabeth": 300, "Lizzy": 50, "Miss Elizabeth Bennet": 3, "Elizabeth Bennet": 5,
        "Mr. Bennet": 100, "Mrs. Bennet": 120, "Mr. Darcy": 200, "Darcy": 300, "Fitzwilliam Darcy": 2,
        "Lady Catherine": 50, "Lady Catherine de Bourgh": 5,
    })
    assert found["Elizabeth Bennet"] == {"Elizabeth Bennet", "Elizabeth", "Lizzy", "Miss Elizabeth Bennet"}
    assert found["Mr. Bennet"] == {"Mr. Bennet"}
    assert found["Mrs. Bennet"] == {"Mrs. Bennet"}
    assert found["Fitzwilliam Darcy"] == {"Fitzwilliam Darcy", "Mr. Darcy", "Darcy"}
    assert found["Lady Catherine de Bourgh"] == {"Lady Catherine de Bourgh", "Lady Catherine"}


def test_a_familiar_given_name_is_not_someone_called_by_a_courtesy_title():
    found = clusters({"Lady Catherine de Bourgh": 9, "Catherine de Bourgh": 5, "Lady Catherine": 106, "Kitty": 56,
                      "Catherine": 27, "Lady Brett Ashley": 5, "Lady Brett": 3, "Brett": 200})
    assert found["Catherine de Bourgh"] == {"Catherine de Bourgh", "Lady Catherine de Bourgh", "Lady Catherine"}
    assert found["Kitty"] == {"Kitty", "Catherine"}  # Kitty Bennet is Lady Catherine's namesake
    assert {"Lady Brett Ashley", "Lady Brett", "Brett"} in found.values()  # mostly called Brett: the same woman


def test_a_wife_named_for_her_husband_stays_apart_from_him():
    found = clusters({"Charles Musgrove": 10, "Mrs. Charles Musgrove": 4, "Mrs. Charles": 10})
    assert found["Charles Musgrove"] == {"Charles Musgrove"}
    assert found["Mrs. Charles Musgrove"] == {"Mrs. Charles Musgrove", "Mrs. Charles"}


def test_the_title_alone_is_its_one_main_bearer():
    found = clusters({"Major Callendar": 45, "the Major": 21, "Major Roberts": 2, "Captain Wentworth": 60,
                      "Captain Harville": 30, "the Captain": 10})
    assert found["Major Callendar"] == {"Major Callendar", "the Major"}  # 45 of the 47 "Major" mentions
    assert found["the Captain"] == {"the Captain"}  # two captains: no one in particular


def test_titled_surnames_join_the_one_full_name_of_one_gender():
    found = clusters({
        "Scrooge Scrooge": 1, "Scrooge": 300, "Mr. Scrooge": 11, "Uncle Scrooge": 5, "Master Scrooge": 3,
        "Ebenezer Scrooge": 2, "Jacob Marley": 5, "Mr. Marley": 2, "Old Marley": 1,
        "the Ghost": 81, "Ghost": 10,
        "Mrs. Dilber": 5, "Dilber": 5, "John Smith": 3, "Mrs. Smith": 4, "Muriel Stacy": 2, "Miss Stacy": 9,
        "Reggie St Cloud": 5, "Uncle Reggie": 5, "Tom Bertram": 9, "Thomas Bertram": 2, "Sir Thomas": 40,
        # Bingley has a Mr. and a Miss: the Mr. joins the one full name, the Miss does not
        "Charles Bingley": 2, "Mr. Bingley": 50, "Miss Bingley": 40,
    })
    assert found["Ebenezer Scrooge"] == {"Ebenezer Scrooge", "Scrooge", "Mr. Scrooge", "Uncle Scrooge",
                                         "Master Scrooge"}
    assert found["Jacob Marley"] == {"Jacob Marley", "Mr. Marley", "Marley"}
    assert found["Mrs. Dilber"] == {"Mrs. Dilber", "Dilber"}
    assert found["Mrs. Smith"] == {"Mrs. Smith"}  # a wife's title joins no full name of unknown gender
    assert found["Muriel Stacy"] == {"Muriel Stacy"} and found["Miss Stacy"] == {"Miss Stacy"}
    assert found["the Ghost"] == {"the Ghost", "Ghost"}
    assert found["Reggie St Cloud"] == {"Reggie St Cloud", "Uncle Reggie"}
    assert found["Sir Thomas"] == {"Sir Thomas"}  # the father, not Tom
    assert found["Charles Bingley"] == {"Charles Bingley", "Mr. Bingley"}
    assert found["Miss Bingley"] == {"Miss Bingley"}


def test_mr_stays_apart_from_a_full_name_whose_given_name_he_is_often_seen_with():
    text = "\n\n".join(["Mr. Emerson looked at George."] * 4 + ["Mr. Emerson sat."] * 4)
    found = {main: {main, *aliases} for main, aliases, _, _ in
             cluster_names({"George Emerson": 5, "Mr. Emerson": 8, "George": 20}, co_mentions(text))}
    assert found["George Emerson"] == {"George Emerson", "George"} and found["Mr. Emerson"] == {"Mr. Emerson"}


def test_mr_joins_the_one_full_name_though_there_is_a_mrs_but_not_when_rare():
    found = clusters({"Ralph Denham": 20, "Mr. Denham": 10, "Mrs. Denham": 5, "Adela Quested": 20,
                      "Mr. Quested": 2, "Miss Quested": 100})
    assert found["Ralph Denham"] == {"Ralph Denham", "Mr. Denham"} and found["Mrs. Denham"] == {"Mrs. Denham"}
    assert found["Adela Quested"] == {"Adela Quested"}


def test_a_bare_surname_more_frequent_than_the_family_member_is_someone_else():
    found = clusters({"Old Fezziwig": 8, "Fezziwig": 12, "Mrs. Fezziwig": 4, "Miss Bartlett": 50, "Bartlett": 5})
    assert found["Fezziwig"] == {"Fezziwig"} and found["Mrs. Fezziwig"] == {"Mrs. Fezziwig"}
    assert found["Miss Bartlett"] == {"Miss Bartlett", "Bartlett"}


def test_person_texts_are_cleaned_of_non_names_run_together_names_places_and_families():
    text = ("It gives me joy, it gives. At Hetton he rests; to Hetton he rides; from Hetton he went. "
            "Brenda met Mr. Emerson. Brenda saw Hetton, and Holmes saw Brenda, John Beaver, Maria Bertram "
            "and Mr. Rushworth. "
            '"Hush!" he said. Hitherto Gino smiled; then Gino went home.\n\nCHAPTER XVI\n\nNext day. ') * 3
    counts = {"Holmes Gives": 2, "Holmes": 5, "Brenda John": 1, "John Beaver": 4, "Brenda": 9, "Hetton": 9,
              "the Emersons": 4, "Mr. Emerson": 8, "Rushworth Maria Bertram": 1, "Maria Bertram": 5,
              "Mr. Rushworth": 6, "Hush": 3, "Hitherto Gino": 3, "CHAPTER XVI": 3}
    # "Hush" and "Hitherto" are capitalised only where a sentence starts; "XVI" is a chapter number
    assert clean_names(counts, WordStats.of(text), text) == {
        "Holmes": 7, "John Beaver": 4, "Brenda": 9, "Mr. Emerson": 8, "Maria Bertram": 5, "Mr. Rushworth": 6,
        "Gino": 3}
    said_to = '"Yes," said Veronica. He said to Veronica, and went to Veronica. ' * 3
    assert clean_names({"Veronica": 9}, WordStats.of(said_to), said_to) == {}  # "to Veronica": a place?
    assert clean_names({"Veronica": 9}, WordStats.of(said_to), said_to, {"Veronica"}) == {"Veronica": 9}


def test_discovery_adds_speech_tag_names_and_descriptions_that_speak():
    text = ('"Yes," said Montoya. "No," Montoya said. "Well," said Montoya. ' * 2
            + "They saw the English and the English and the English and the English and the English. "
            + '"Off," said the Queen, and the Queen, and the Queen, and the Queen, and the Queen said so. ')
    names = {c.name for c in discover_characters({}, text, min_mentions=2, max_characters=10)}
    assert names == {"Montoya", "the Queen"}


def test_a_form_of_address_alone_is_no_character():
    text = '"Yes, Lady," said Montoya. "No, Mister," Montoya said. "Well, Lady Anne," said Montoya. ' * 4
    names = {c.name for c in discover_characters({"Lady": 8, "Mister": 4, "Montoya": 12, "Lady Anne": 4}, text,
                                                 min_mentions=2, max_characters=10)}
    assert names == {"Montoya", "Lady Anne"}


def test_gender_from_titles():
    genders = {main: gender for main, _, gender, _ in cluster_names({"Mr. Bennet": 3, "Mrs. Bennet": 3, "Jane": 3})}
    assert genders == {"Mr. Bennet": "male", "Mrs. Bennet": "female", "Jane": None}


def test_discovery_adds_honorific_names_and_drops_rare_ones():
    text = "Mr. Collins bowed. Mr. Collins sat. Mrs. Long left."
    cast = discover_characters({"Collins": 1}, text, min_mentions=2, max_characters=10)
    assert [c.name for c in cast] == ["Mr. Collins"]
    assert cast[0].aliases == ["Collins"] and cast[0].gender == "male"


def test_a_title_before_a_full_name_the_text_also_writes_bare_keeps_the_whole_name():
    text = ("John Dashwood came in. \"No,\" said Mrs. John Dashwood. Mrs. John\nDashwood smiled at John Dashwood. "
            "Mrs. Jennings Elinor disliked. Sir John laughed.")
    assert honorific_names(text) == {"Mrs John Dashwood": 2, "Mrs Jennings": 1, "Sir John": 1}


def test_read_cast_csv(tmp_path):
    path = tmp_path / "cast.csv"
    path.write_text("name,aliases,gender\nElizabeth Bennet,Lizzy;Eliza,F\nMr. Darcy,Darcy,\n", encoding="utf-8")
    cast = read_cast_csv(path)
    assert cast[0] == Character("elizabeth-bennet", "Elizabeth Bennet", ["Lizzy", "Eliza"], "female", 0)
    assert cast[1].slug == "mr-darcy" and cast[1].gender is None


@pytest.mark.parametrize("content", ["", "who,what\nx,y\n", "name,aliases\n,foo\n"])
def test_bad_cast_csv_is_a_corpus_error(tmp_path, content):
    path = tmp_path / "cast.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError):
        read_cast_csv(path)


def test_missing_and_binary_cast_csv(tmp_path):
    with pytest.raises(CorpusError, match="cannot read"):
        read_cast_csv(tmp_path / "nope.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(CorpusError):
        read_cast_csv(binary)
