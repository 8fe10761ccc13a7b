"""Interactions: access by names, conversions (pandas, networkx, shapiq), JSON round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _surface_helpers import sample_interactions
from fastspex import indices
from fastspex import masks as M
from fastspex.coefficients import Coefficients
from fastspex.interactions import SCHEMA, Interactions

GOLDEN = Path(__file__).parent / "data" / "interactions_v1.json"


def golden_object() -> Interactions:
    """The object the golden file was written from (kept here, so both must agree)."""
    surrogate = Coefficients.from_dict({(): 0.5, (0,): 0.125, (0, 1): 0.375}, 3, "fourier")
    return Interactions.from_dict(
        {(): 0.5, (0,): -0.25, (1,): -1.0, (2,): 0.75, (0, 1): 1.5}, 3, index="fbii", order=2,
        labels=["not", "bad", "good"], baseline=1.5, method="proxyspex", calls=120, budget=100,
        faithfulness=0.9, kind="features",
        metadata={"text": "not bad good", "units": [[0, 3], [4, 7], [8, 12]]},
        settings={"method": "proxyspex", "budget": 100, "index": "fbii", "order": 2, "seed": 0},
        timings={"total": 1.25}, surrogate=surrogate,
    )


def test_named_indexing_and_top() -> None:
    res = golden_object()
    assert res["not", "bad"] == 1.5
    assert res["bad", "not"] == 1.5
    assert res[0, 1] == 1.5
    assert res["good"] == 0.75
    assert res[()] == 0.5
    assert res["not", "good"] == 0.0  # absent sets are zero
    with pytest.raises(KeyError, match="no component is named"):
        res["great"]
    with pytest.raises(IndexError, match="out of range"):
        res[7]
    top = res.top(2)
    assert [t.names for t in top] == [("not", "bad"), ("bad",)]
    assert [t.ids for t in res.top(10, order=1)] == [(1,), (2,), (0,)]
    assert res.top(1, by="largest")[0].ids == (0, 1)
    assert res.top(1, by="smallest")[0].ids == (1,)
    assert sorted(res.by_order()) == [0, 1, 2]
    np.testing.assert_array_equal(res.main_effects(), [-0.25, -1.0, 0.75])


def test_duplicate_labels_need_ids() -> None:
    res = Interactions.from_dict({(0,): 1.0, (2,): 2.0}, 3, index="bii", labels=["a", "b", "a"])
    with pytest.raises(KeyError, match="index by id"):
        res["a"]
    assert res[2] == 2.0


def test_validation_messages() -> None:
    with pytest.raises(ValueError, match="labels has 2 names"):
        Interactions.from_dict({(0,): 1.0}, 3, index="bii", labels=["a", "b"])
    with pytest.raises(ValueError, match="index must be one of"):
        Interactions.from_dict({(0,): 1.0}, 3, index="shap")
    with pytest.raises(ValueError, match="finite"):
        Interactions.from_dict({(0,): np.nan}, 3, index="bii")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\)"):
        Interactions.from_dict({(5,): 1.0}, 3, index="bii")


def test_evaluate_uses_the_surrogate(rng: np.random.Generator) -> None:
    res = sample_interactions("features")
    masks = rng.random((50, res.n)) < 0.5
    from _surface_helpers import FakeFeatureAblation

    np.testing.assert_allclose(res.evaluate(masks), FakeFeatureAblation()(masks), atol=1e-10)
    bare = Interactions.from_dict({(0,): 1.0}, 2, index="fbii", order=1)
    with pytest.raises(ValueError, match="no surrogate"):
        bare.evaluate(masks[:, :2])
    # A complete Möbius result predicts by itself.
    mob = Interactions.from_dict({(): 1.0, (0, 1): 2.0}, 2, index="mobius")
    np.testing.assert_allclose(mob.evaluate(np.array([[1, 1], [1, 0]], bool)), [3.0, 1.0])


def test_to_pandas_and_networkx() -> None:
    res = golden_object()
    df = res.to_pandas()
    assert list(df.columns) == ["ids", "names", "order", "value"]
    assert df.loc[df["names"] == "not × bad", "value"].item() == 1.5
    g = res.to_networkx()
    assert g.number_of_nodes() == 3
    assert g.nodes[1]["label"] == "bad" and g.nodes[1]["main_effect"] == -1.0
    assert list(g.edges(data="weight")) == [(0, 1, 1.5)]


@pytest.mark.slow  # importing shapiq takes ~10 s on a busy machine
def test_shapiq_round_trip() -> None:
    shapiq = pytest.importorskip("shapiq")
    res = sample_interactions("components")
    iv = res.to_shapiq()
    assert isinstance(iv, shapiq.InteractionValues)
    assert iv.index == "FBII" and iv.max_order == 2 and iv.n_players == res.n
    for t in res.top(5):
        assert iv[t.ids] == pytest.approx(t.value)
    with pytest.raises(ValueError, match="baseline="):  # FBII of order 2 does not carry f(1)
        Interactions.from_shapiq(iv, labels=res.labels)
    back = Interactions.from_shapiq(iv, labels=res.labels, baseline=res.baseline)
    assert back.index == "fbii" and back.order == 2 and back.labels == res.labels
    for t in res:
        assert back[t.ids] == pytest.approx(t.value)
    with pytest.raises(ValueError, match="no counterpart"):
        Interactions.from_dict({(0,): 1.0}, 2, index="ablation").to_shapiq()


def test_shapiq_exact_values_agree(rng: np.random.Generator) -> None:
    """Values from shapiq's exact computer import as the same index fastspex computes."""
    shapiq = pytest.importorskip("shapiq")
    from _surface_helpers import FakeHeadAblation

    fn = FakeHeadAblation()
    from shapiq.game_theory.exact import ExactComputer

    computer = ExactComputer(n_players=fn.n, game=lambda c: fn(np.asarray(c, bool)))
    iv = computer("SII", 2)
    imported = Interactions.from_shapiq(iv)
    ours = sample_interactions("components")
    sii = indices.sii(ours.surrogate, 2)
    for s, v in sii.to_dict().items():
        if s:
            assert imported[s] == pytest.approx(v, abs=1e-9)
    del shapiq


def test_save_load_round_trip(tmp_path: Path) -> None:
    res = sample_interactions("features")
    path = res.save(tmp_path / "sub" / "r.json")
    back = Interactions.load(path)
    assert back.labels == res.labels and back.index == res.index and back.order == res.order
    np.testing.assert_array_equal(back.values, res.values)
    np.testing.assert_array_equal(back.indices, res.indices)
    assert back.metadata == {"text": res.metadata["text"], "units": [list(u) for u in res.metadata["units"]]}
    masks = M.bernoulli(20, res.n, seed=1)
    np.testing.assert_allclose(back.evaluate(masks), res.evaluate(masks))
    assert json.loads(path.read_text())["schema"] == SCHEMA


def test_golden_file_is_stable(tmp_path: Path) -> None:
    """The v1 schema must keep reading (and writing) exactly this file."""
    doc = json.loads(GOLDEN.read_text())
    assert doc["schema"] == "fastspex.interactions/1"
    res = Interactions.load(GOLDEN)
    want = golden_object()
    assert res["not", "bad"] == 1.5 and res.baseline == 1.5 and res.faithfulness == 0.9
    assert res.calls == 120 and res.budget == 100 and res.kind == "features"
    assert res.surrogate is not None and res.surrogate.to_dict() == want.surrogate.to_dict()
    written = json.loads(want.save(tmp_path / "g.json").read_text())
    for d in (doc, written):
        d.pop("fastspex_version")
    assert written == doc


def test_load_refuses_other_schemas(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"schema": "fastspex.interactions/99"}))
    with pytest.raises(ValueError, match="unsupported schema"):
        Interactions.load(p)
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Interactions.load(p)
    p.write_text(json.dumps({"schema": SCHEMA, "n": 2}))
    with pytest.raises(ValueError, match="lacks the field"):
        Interactions.load(p)


def test_json_round_trip_property(tmp_path: Path) -> None:
    """Any sparse result survives save/load exactly (hypothesis draws sets and values)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    sets = st.lists(st.integers(0, 9), max_size=4).map(lambda s: tuple(sorted(set(s))))
    floats = st.floats(-1e6, 1e6, allow_nan=False)

    @settings(max_examples=40, deadline=None)
    @given(st.dictionaries(sets, floats, max_size=30), st.one_of(st.none(), st.floats(-1, 1)))
    def check(values: dict, faith: float | None) -> None:
        res = Interactions.from_dict(values, 10, index="sii", order=None, faithfulness=faith,
                                     labels=[f"w{i}" for i in range(10)])
        back = Interactions.load(res.save(tmp_path / "p.json"))
        assert back.to_json_dict() == res.to_json_dict()
        for s, v in values.items():
            assert back[s] == v

    check()


def test_unique_labels_name_duplicates_by_id_everywhere() -> None:
    from fastspex.results.describe import short_labels, unique_labels

    labels = ["the", "movie", "was", "long", "but", "it", "was", "fun", "was@6"]
    assert unique_labels(labels) == ["the", "movie", "was@2", "long", "but", "it", "was@6@6",
                                     "fun", "was@6"]
    # a literal label equal to a suffixed one never leaves two components with one name
    for case in (labels, ["a", "a", "a@1"], ["x"] * 5, ["a@1", "a", "a"]):
        assert len(set(unique_labels(case))) == len(case)
    sentences = ["Marie Curie won the Nobel Prize in physics in 1903.",
                 "Marie Curie won the Nobel Prize in chemistry in 1911.", "Short."]
    short = short_labels(sentences, 24)
    assert len(set(short)) == 3 and all(len(s) <= 24 + 3 for s in short)
    assert short[0].endswith("@0") and short[2] == "Short."
    res = Interactions.from_dict({(2, 6): -0.5, (1,): 0.25}, 9, index="bii", labels=labels)
    top = res.top(1)
    assert top[0].names == ("was@2", "was@6@6")
    assert res["was@2", "was@6@6"] == -0.5 and res["was@6"] == 0.0
    df = res.to_pandas()
    assert "was@2 × was@6@6" in set(df["names"])
    g = res.to_networkx()
    assert g.nodes[2]["label"] == "was@2" and g.nodes[2]["text"] == "was"


def test_top_prints_a_table_and_result_prints_what_was_explained() -> None:
    res = golden_object()
    res.metadata.update(model="minilm", quantity="cosine similarity to the reference text",
                        reference="a good film")
    res.settings.update(fit_masks=100, holdout_masks=20,
                        calls={"new": 20, "from_store": 100, "total": 120}, design="uniform")
    table = str(res.top(3))
    lines = table.splitlines()
    assert lines[0].split() == ["#", "order", "components", "FBII"]
    assert lines[1].split() == ["1", "2", "not", "×", "bad", "+1.500"]
    assert repr(res.top(3)) == table and isinstance(res.top(3), list)
    text = str(res)
    for needed in (("FBII (order 2) of 3 features for cosine similarity to the reference text on "
                   "minilm"), "reference text   a good film", "100 fit masks + 20 hold-out masks = 120",
                   "20 new / 100 from the store / 120 total", "design", "uniform", "0.900 — high",
                   "Faith-Banzhaf", "redundancy"):
        assert needed in text, needed
    assert "minilm" in repr(res) and "\n" not in repr(res)
    page = res._repr_html_()
    assert "<table" in page and "not × bad" in page and "<script" not in page
    assert "cosine similarity" in page and "+1.500" in page
    # absent metadata: nothing is invented, nothing crashes
    bare = Interactions.from_dict({(0,): 1.0}, 2, index="mobius")
    assert "2 components" in str(bare) and "store hits not recorded" in str(bare)
    assert "explained" not in str(bare)
    bare._repr_html_()


def test_plot_shortcut() -> None:
    pytest.importorskip("matplotlib")
    res = golden_object()
    for kind in ("bar", "graph", "waterfall", "text"):
        assert res.plot(kind).get_axes(), kind
    with pytest.raises(ValueError, match="plot kind must be one of bar, graph"):
        res.plot("pie")


def test_line_breaks_in_answers_and_tokens_keep_tables_on_one_line() -> None:
    res = Interactions.from_dict({(0,): 1.0, (0, 1): 0.5}, 2, index="bii", labels=["Paris\n", "is"],
                                 metadata={"answer": " Paris.\n\nThe capital",
                                           "quantity": "log p(' Paris.\n' | prompt), in nats"})
    text = str(res)
    assert "answer explained   Paris.\\n\\nThe capital" in text
    assert text.splitlines()[0].endswith("in nats")
    table = str(res.top(2))
    assert len(table.splitlines()) == 3 and "Paris\\n × is" in table
