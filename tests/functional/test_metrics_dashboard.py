"""The Grafana dashboard in `docs/grafana/` loads as a dashboard and draws only what the
service exports: every panel's query names metrics that `GET /metrics` has, and every
metric the service exports is drawn by some panel."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT

DASHBOARD = ROOT / "docs" / "grafana" / "newsletter.json"
TOKEN = "a-metrics-token-of-the-tests-0123456789"
NAME = re.compile(r"\bnewsletter_[a-zA-Z0-9_:]+")
PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "gauge", "table"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def exported(app) -> set[str]:
    """The sample names `/metrics` exports (a histogram's `_bucket`, `_sum`, `_count`)."""
    app.config["METRICS_TOKEN"] = TOKEN
    text = (
        app.test_client()
        .get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        .get_data(as_text=True)
    )
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    # `_created` (a series' start time) is the library's own, and only without the directory
    return {n for n in names if n.startswith("newsletter_") and not n.endswith("_created")}


def test_the_dashboard_has_the_shape_grafana_loads(dashboard):
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    [variable] = dashboard["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for panel in dashboard["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        covered = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))


def test_every_query_names_exported_metrics_and_every_metric_is_drawn(dashboard, sqlite_app):
    names = exported(sqlite_app)
    assert "newsletter_send_handled" in names and "newsletter_signups_total" in names
    drawn = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            used = set(NAME.findall(target["expr"]))
            assert used, f"{panel['title']}: {target['expr']} draws no metric of the service"
            assert used <= names, f"{panel['title']}: not exported: {sorted(used - names)}"
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            drawn |= used
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}
    undrawn = {f for f in families if not any(d.startswith(f) for d in drawn)}
    assert undrawn == set()
