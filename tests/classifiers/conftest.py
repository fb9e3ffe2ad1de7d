import pytest

from monitor.core.settings import RosterConfig, SettingConfig


@pytest.fixture(scope="session")
def setting() -> SettingConfig:
    return SettingConfig(
        name="Willowbrook Day Nursery",
        aliases=["Willowbrook", "WDN"],
        town="Hadleigh",
        public_phone="01473 820911",
        public_address="14 Mill Lane, Hadleigh, IP7 5AB",
    )


@pytest.fixture(scope="session")
def roster() -> RosterConfig:
    return RosterConfig(
        children=["Amelia Hart", "Oliver Brown", "Isla Patel", "Noah Wilson", "Poppy Evans"],
        staff=["Sarah Jones", "Rebecca Hughes", "Tom Fletcher"],
        parents=["Laura Hart"],
        rooms=["Acorns", "Oak Room"],
    )


@pytest.fixture(scope="session")
def clf(setting, roster):
    from classifiers import build_classifier

    return build_classifier(setting, roster)


@pytest.fixture(scope="session")
def rules_clf(setting, roster):
    """Rules only, so detector tests do not depend on the trained model."""
    from classifiers.classifier import Classifier

    return Classifier(setting, roster, use_model=False)
