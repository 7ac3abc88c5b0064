"""CDA: both directions, one pass, case kept, whole words only, neutral words untouched."""

from __future__ import annotations

from crawd import CrawdConfig
from crawd.baselines import get_method
from crawd.baselines.cda import Swapper


def test_swaps_both_directions_without_double_swap():
    s = Swapper([("he", "she"), ("man", "woman"), ("his", "her")])
    assert s("he met a woman") == "she met a man"
    assert s("she met a man") == "he met a woman"
    assert s(s("He told his man")) == "He told his man"


def test_case_whole_word_and_neutral():
    s = Swapper([("he", "she"), ("king", "queen"), ("mr.", "mrs.")])
    assert s("HE and King") == "SHE and Queen"
    assert s("the theme, hello, kingdom, shell") == "the theme, hello, kingdom, shell"
    assert s("Mr. Smith, he's here") == "Mrs. Smith, she's here"
    assert s("The weather is nice today.") == "The weather is nice today."


def test_names_only_when_capitalised():
    s = Swapper([("he", "she")], names=[("mark", "emily")])
    assert s("Mark saw Emily") == "Emily saw Mark"
    assert s("mark the page") == "mark the page"


def test_full_lists_and_augmentation():
    m = get_method("cda")
    m.configure(CrawdConfig(reference_words=["gender"]))
    texts, labels, groups = m.transform_train_data(
        ["His father is a king.", "The sky is blue.", "John and his wife"], [1, 0, 1], ["m", "x", "m"]
    )
    assert texts[:3] == ["His father is a king.", "The sky is blue.", "John and his wife"]
    assert texts[3:] == ["Her mother is a queen.", "Mary and her husband"]  # only changed texts added
    assert labels == [1, 0, 1, 1, 1] and groups == ["m", "x", "m", "m", "m"]


def test_reference_vocabulary_is_the_table3_knob():
    m = get_method("cda", vocabulary="reference", names=False)
    m.configure(CrawdConfig(reference_words=["he", "she"]))
    out, _, _ = m.transform_train_data(["He is her father."])
    assert out[1] == "She is his father."  # pronouns swapped, "father" kept
    m = get_method("cda", vocabulary="reference", names=False)
    m.configure(CrawdConfig(reference_words=["he", "she", "father"]))
    assert m.transform_train_data(["He is her father."])[0][1] == "She is his mother."
