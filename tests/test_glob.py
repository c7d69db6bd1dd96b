import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st

from kubesafe.glob import glob_match

ALPHABET = "ab-*?[]!/"


def test_examples() -> None:
    assert glob_match("prod*", "prod-eu")
    assert not glob_match("prod*", "preprod")
    assert glob_match("*prod*", "preprod-1")
    assert glob_match("arn:aws:eks:*:cluster/prod-?", "arn:aws:eks:eu:cluster/prod-1")
    assert glob_match("[!d]ev", "rev") and not glob_match("[!d]ev", "dev")
    assert glob_match("team-[a-c]", "team-b") and not glob_match("team-[a-c]", "team-d")


@given(st.text(ALPHABET, max_size=8), st.text(ALPHABET, max_size=10))
@settings(max_examples=1500)
def test_matches_fnmatchcase(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) == fnmatch.fnmatchcase(text, pattern)
