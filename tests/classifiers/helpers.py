def rule_hits(clf, text, rating=None):
    doc = clf.nlp(text)
    analysis, hits = clf.analyse(doc, text, None, rating)
    return analysis, hits


def rule_score(clf, text, label, rating=None) -> float:
    _a, hits = rule_hits(clf, text, rating)
    return clf.rule_scores(hits)[label]


def fired_rules(clf, text, label, rating=None, at_least=0.5) -> set[str]:
    _a, hits = rule_hits(clf, text, rating)
    return {h.rule for h in hits if h.label == label and h.value >= at_least}
