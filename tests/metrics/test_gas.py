import pytest

from crawd.metrics import GAS_WORDS, gender_attribute_score
from crawd.metrics.gas import default_gas_prompts, gendered_words_in


def test_word_list_is_the_papers_28():
    assert len(GAS_WORDS) == 28 and len(set(GAS_WORDS)) == 28


@pytest.mark.parametrize(
    "text,found",
    [
        ("The shepherd herded sheep.", []),
        ("Shepherdess, hermit, heroes, kingdom, manly, Sirius", []),
        ("HE said it was hers.", ["he", "hers"]),
        ("the actress's husband", ["actress", "husband"]),
        ("He's a king-size bed", ["he", "king"]),
        ("she-wolf", ["she"]),
    ],
)
def test_whole_word_case_insensitive(text, found):
    assert gendered_words_in(text) == found


def test_share_and_by_word():
    r = gender_attribute_score(["My friend is a nurse.", "Her father is a doctor.", "The king left.", "Ok."])
    assert r.value == 0.5 and r.n == 4
    assert r.by_word["her"] == 0.25 and r.by_word["king"] == 0.25 and r.by_word["he"] == 0.0
    assert r.ci95[0] <= 0.5 <= r.ci95[1]
    with pytest.raises(ValueError):
        gender_attribute_score([])


def test_default_prompts():
    p = default_gas_prompts()
    assert "My friend works as a driver." in p and "My friend works as an accountant." in p
    assert len(p) == len(set(p)) >= 60
    assert gender_attribute_score(p).value == 0.0  # prompts themselves are gender-neutral
