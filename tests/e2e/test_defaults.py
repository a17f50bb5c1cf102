"""Defaults that work on an ordinary table: gaps, a category and a target in large units,
through `dataset=csv` with no other options, close to least squares on the same split."""

from __future__ import annotations

import numpy as np
import pytest


def write_house_prices(path, rows: int = 600) -> None:
    """Prices in dollars from an area, a distance and a district, with noise; a few areas
    missing (`?`)."""
    generator = np.random.default_rng(7)
    area = generator.normal(120, 30, rows)
    distance = generator.uniform(0, 40, rows)
    district = generator.choice(["north", "centre", "south"], rows)
    premium = {"north": 20_000, "centre": 60_000, "south": 0}
    price = 90_000 + 2_500 * area - 1_800 * distance + np.vectorize(premium.get)(district)
    price += generator.normal(0, 20_000, rows)
    lines = ["area,distance,district,price"]
    for index in range(rows):
        shown_area = "?" if index % 25 == 3 else f"{area[index]:.1f}"
        lines.append(f"{shown_area},{distance[index]:.2f},{district[index]},{price[index]:.0f}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_a_table_with_defaults_comes_close_to_least_squares(train, store, tmp_path, model):
    table = tmp_path / "houses.csv"
    write_house_prices(table)
    options = ["dataset=csv", f"dataset.path={table}", "dataset.target=price"]
    name = f"defaults_{model}"
    train(f"name={name}", *options, f"model={model}", "logger.log_model=false")
    train(f"name={name}", *options, "model=sklearn_linear", "logger.log_model=false")
    by_model = {run.data.tags["model"]: run for run in store.runs(name)}
    trained, closed_form = by_model[model], by_model["sklearn_linear"]
    ratio = trained.data.metrics["test/rmse"] / closed_form.data.metrics["test/rmse"]
    assert ratio < 1.05, ratio
    assert "warning" not in trained.data.tags
    assert trained.data.params["data/missing_values_imputed"] == "24"
