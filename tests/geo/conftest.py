import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    """The geo tests read the English source messages (the default language is Simplified Chinese)."""
    with translation.override("en"):
        yield
