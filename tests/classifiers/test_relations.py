"""Who did what to whom: the text model's relation features (classifiers/relations.py)."""
import spacy

from classifiers.relations import RelationFeatures, _key

NLP = spacy.blank("en")
REL = RelationFeatures()


def keys(text: str) -> set[int]:
    return {int(k) for k in REL(NLP(text))}


def test_an_act_done_to_a_child_by_staff_is_told_apart_from_a_child_merely_mentioned():
    assert {_key("H>C"), _key("S>H>C"), _key("grab>C"), _key("S>grab>C")} <= keys(
        "the teacher grabbed my son by the arm")
    assert keys("my son loves the painting table") == set()
    assert keys("") == set()


def test_an_adult_at_home_and_a_child_as_the_one_who_did_it_are_their_own_features():
    assert _key("HOME>H>C") in keys("her stepdad hits her when he drinks")
    assert keys("my son kicked the ball over the fence") == {_key("C>H")}


def test_acts_are_matched_by_their_start_on_the_normalised_word():
    assert _key("shout>C") in keys("SHOUTING at the kids again")
    assert keys("the hitlist of songs") == set()  # an act's start, but no child or staff word around it


def test_a_model_trained_with_relations_scores_the_same_through_fastcat_as_through_spacy(monkeypatch):
    """fastcat.py reads a doc's keys itself: it must add the relation keys exactly as the feature layer does."""
    from classifiers import train
    from classifiers.corpus import Example
    from classifiers.fastcat import FastTextcat

    monkeypatch.setitem(train.TEXTCAT_CONFIG, "model", {**train.TEXTCAT_CONFIG["model"], "relations": True})
    examples = [
        Example("the teacher grabbed my son by the arm", frozenset({"safeguarding"})),
        Example("my son loves the painting table", frozenset()),
        Example("her stepdad hits her", frozenset({"safeguarding"})),
        Example("staff are rude", frozenset({"criticism"})),
    ] * 3
    nlp = train.train_textcat(examples, seed=3, epochs=2)
    texts = ["the key worker shouted at my daughter", "lovely day", "", "my son kicked the ball"]
    textcat = nlp.get_pipe("textcat_multilabel")
    fast = FastTextcat(textcat)
    assert fast.applies and fast.layers[2] is not None
    docs = [nlp.make_doc(t) for t in texts]
    fast.set_cats(docs)
    slow = list(textcat.pipe(nlp.make_doc(t) for t in texts))
    assert [d.cats for d in docs] == [d.cats for d in slow]
