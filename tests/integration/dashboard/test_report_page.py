"""``/ui/report``: the report's figures and the chart of incidents per day, without JavaScript."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from responder.incidents import lifecycle
from responder.runtime import Runtime
from tests.helpers import advance, alert, body, drain, open_incident


def test_the_report_page_shows_mtta_mttr_and_what_automation_fixed(
    open_client: FlaskClient, runtime: Runtime
) -> None:
    open_incident(open_client, runtime, "APIQuotaExhaustion")  # automation fixes this one
    acked, _ = open_incident(open_client, runtime, "Templated", note="x")
    drain(runtime)
    advance(runtime, 90)
    lifecycle.acknowledge(runtime, acked, by="carol")
    advance(runtime, 510)  # ten minutes after the open, both alerts clear
    for name in ("APIQuotaExhaustion", "Templated"):
        open_client.post("/webhook/alertmanager", data=body(alert(name, status="resolved")))
    drain(runtime)

    page = open_client.get("/ui/report?since=24h&compare=1").get_data(as_text=True)

    assert "<h1>Report</h1>" in page
    assert re.search(r"<b>2</b> opened", page)
    assert re.search(r"MTTA</dt>\s*<dd>median <b>1.5 min</b>", page)
    assert re.search(r"MTTR</dt>\s*<dd>median <b>10.0 min</b>", page)
    assert re.search(r"<b>1</b> of 2 resolved\s*\(50%\)", page)
    # Today's bar: two incidents, one fixed by automation, one where people were paged.
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 2 opened, 1 fixed by automation, 1 paged</title>", page)
    assert '<option value="24h" selected>' in page and 'name="compare" value="1" checked' in page


def test_an_unknown_window_falls_back_to_a_week(open_client: FlaskClient) -> None:
    page = open_client.get("/ui/report?since=forever").get_data(as_text=True)
    assert '<option value="7d" selected>' in page
    assert "Nobody was paged in this window." in page
