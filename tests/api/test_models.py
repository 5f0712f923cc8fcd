"""/v1/models: the catalog models are listed (present on disk or not) and retrievable."""

from __future__ import annotations

import openai
import pytest

CATALOG_NAMES = ("smollm2-135m-instruct", "gemma-3-270m")


def test_list_includes_catalog_models(client):
    models = list(client.models.list())
    ids = [m.id for m in models]
    for name in CATALOG_NAMES:
        assert name in ids
    assert len(ids) == len(set(ids))
    for m in models:
        assert m.object == "model"
        assert m.owned_by == "local"
        assert isinstance(m.created, int)


@pytest.mark.parametrize("name", CATALOG_NAMES)
def test_retrieve_catalog_model(client, name):
    m = client.models.retrieve(name)
    assert m.id == name and m.object == "model"


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.code == "model_not_found"
