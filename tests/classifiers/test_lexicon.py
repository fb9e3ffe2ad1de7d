"""The pattern language of classifiers/lexicons/*.toml."""
import pytest
import spacy

from classifiers.lexicon import LexiconMatcher, PatternCompiler, inflect

NLP = spacy.blank("en")
CLASSES = {"child": ["son", "daughter", "kid"]}


def matches(pattern: str, text: str) -> list[str]:
    compiler = PatternCompiler(NLP, CLASSES)
    m = LexiconMatcher()
    m.add("r", [compiler.compile(pattern)])
    doc = NLP(text)
    return [doc[s:e].text for _k, s, e in m([t.norm_ for t in doc])]


@pytest.mark.parametrize("pattern, text, found", [
    ("black eye", "He had a BLACK EYE today", ["BLACK EYE"]),
    ("bruise~", "bruised and bruising", ["bruised", "bruising"]),
    ("hit|smacked {child}", "she smacked my son", []),
    ("smacked my? {child}", "she smacked my son", ["smacked my son"]),
    ("left .. alone", "they left him all alone", ["left him all alone"]),
    ("did n't tell", "they didn't tell me", ["didn't tell"]),
    ("didn't tell", "they didnt tell me", ["didnt tell"]),
    ("can't explain", "they cant explain it", ["cant explain"]),
    ("no one _ me", "no one told me", ["no one told me"]),
])
def test_patterns_match_what_they_say(pattern, text, found):
    assert matches(pattern, text) == found


@pytest.mark.parametrize("pattern, text", [
    ("black eye", "a black cat's eye"),
    ("smacked {child}", "smacked the table"),
    ("left .. alone", "left the room and then came back to be alone"),
])
def test_patterns_do_not_match_near_misses(pattern, text):
    assert matches(pattern, text) == []


def test_inflect_covers_common_endings():
    assert {"bruise", "bruises", "bruised", "bruising"} <= set(inflect("bruise"))
    assert {"grab", "grabs", "grabbed", "grabbing"} <= set(inflect("grab"))
    assert {"worry", "worries", "worried"} <= set(inflect("worry"))


@pytest.mark.parametrize("bad", ["", "_ alone", "{nosuchclass} hit", "big? bad?"])
def test_bad_patterns_are_rejected_with_a_message(bad):
    with pytest.raises(ValueError):
        PatternCompiler(NLP, CLASSES).compile(bad)


def test_every_shipped_lexicon_compiles(rules_clf):
    # building the classifier compiles every file; a bad pattern raises naming its rule
    assert rules_clf.detectors
