"""Quoting names without PyYAML: the same scalars the loader's own resolvers would ask for."""

from __future__ import annotations

import string
import subprocess
import sys

import yaml
from hypothesis import given
from hypothesis import strategies as st

from kubesafe.kubeconfig.parse import _loader
from kubesafe.kubeconfig.quoting import _PLAIN, NOT_STRINGS, scalar_text

STR = "tag:yaml.org,2002:str"


def resolves_to_str(value: str) -> bool:
    """The loader's verdict on a plain scalar (what scalar_text used to ask PyYAML)."""
    loader = _loader()
    tag: str = loader.resolve(loader, yaml.ScalarNode, value, (True, False))
    return tag == STR


def with_the_loader(value: str, flow: bool = False) -> str:
    """scalar_text as written with PyYAML's resolver (the implementation it replaces)."""
    plain = _PLAIN.fullmatch(value) and not (flow and ":" in value)
    if plain and resolves_to_str(value):
        return value
    return scalar_text("\x00" + value, flow).replace("\\x00", "", 1)


def test_only_booleans_and_nulls_can_resolve_from_a_plain_first_character() -> None:
    resolvers = _loader().yaml_implicit_resolvers
    assert None not in resolvers
    for first in string.ascii_letters + "_":
        tags = {tag for tag, _ in resolvers.get(first, [])}
        assert tags <= {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}, first


def test_the_words_quoted_are_exactly_those_the_loader_does_not_read_as_strings() -> None:
    for word in NOT_STRINGS:
        assert _PLAIN.fullmatch(word) and not resolves_to_str(word), word
        assert scalar_text(word) == f'"{word}"'
        assert yaml.load(f"k: {scalar_text(word)}", Loader=_loader())["k"] == word
    # Every spelling of the words in the resolvers' patterns, and their neighbours.
    for word in ["yES", "nO", "Nul", "nulls", "ON_", "offf", "Y_", "y", "n", "~"]:
        assert (word in NOT_STRINGS) == (not resolves_to_str(word) and bool(_PLAIN.fullmatch(word)))


words = st.text(alphabet=string.ascii_letters + "_-./@+:0123456789 ", min_size=1, max_size=8)


@given(st.one_of(words, st.sampled_from(sorted(NOT_STRINGS)), st.text(max_size=8)), st.booleans())
def test_same_text_as_with_the_loader(value: str, flow: bool) -> None:
    if any("\ud800" <= char <= "\udfff" for char in value):
        return
    assert scalar_text(value, flow) == with_the_loader(value, flow)
    loaded = yaml.load(f"k: {scalar_text(value)}", Loader=_loader())["k"]
    assert loaded == value


def test_quoting_imports_no_yaml() -> None:
    code = (
        "import sys, kubesafe.kubeconfig.quoting as q; q.scalar_text('yes'); "
        "print('yaml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
