"""The pure parts of benchmarks/security.py (section 11): listening lines, the rotation of the
cases, client settings per case, and the ratios against PLAINTEXT of the same run."""

from __future__ import annotations

from typing import Any

from benchmarks.security import (
    CASES,
    Case,
    client_config,
    connect_table,
    parse_listeners,
    ratio,
    ratio_text,
    rotation,
    size_table,
    summary_lines,
)

ADDRESSES = {"PLAINTEXT": "127.0.0.1:1001", "SSL": "127.0.0.1:1002",
             "SASL_PLAINTEXT": "127.0.0.1:1003", "SASL_SSL": "127.0.0.1:1004"}


def test_parse_listeners_reads_every_listening_line_and_nothing_else() -> None:
    """LSN-5's log lines give protocol -> bound address; other lines are ignored."""
    log = "\n".join([
        "2026-12-03 11:46:07,551 INFO flyq.server: FlyQ broker listening on 127.0.0.1:43933 "
        "(advertised 127.0.0.1:43933) for PLAINTEXT",
        "2026-12-03 11:46:07,551 INFO flyq.server: FlyQ broker listening on 127.0.0.1:42073 "
        "(advertised broker.example:9093) for SASL_SSL",
        "2026-12-03 11:46:07,552 INFO flyq.server: FlyQ broker serving data directory /d: 0 "
        "partitions opened, 0 recovered, cluster id x",
        "FlyQ broker ready on:",
        "  SSL://127.0.0.1:9",
    ])
    assert parse_listeners(log) == {"PLAINTEXT": "127.0.0.1:43933",
                                    "SASL_SSL": "127.0.0.1:42073"}


def test_rotation_moves_the_first_case_on_by_one_each_round() -> None:
    """Round r starts with item r (mod n) and keeps the cyclic order; every item once a round."""
    items = ["a", "b", "c"]
    assert rotation(items, 0) == ["a", "b", "c"]
    assert rotation(items, 1) == ["b", "c", "a"]
    assert rotation(items, 2) == ["c", "a", "b"]
    assert rotation(items, 3) == ["a", "b", "c"]
    assert rotation(items, -1) == ["c", "a", "b"]
    assert rotation([], 5) == []
    firsts = [rotation(list(CASES), r)[0] for r in range(len(CASES))]
    assert sorted(case.name for case in firsts) == sorted(case.name for case in CASES)


def test_client_config_per_case() -> None:
    """Each case talks to its protocol's listener; TLS cases trust the CA, SASL cases log in as
    the bench user with their mechanism, and nothing else is set."""
    plain = client_config(Case("PLAINTEXT"), ADDRESSES, ca_file="/ca.pem", password="pw")
    assert plain == {"bootstrap.servers": "127.0.0.1:1001", "security.protocol": "PLAINTEXT"}
    ssl = client_config(Case("SSL"), ADDRESSES, ca_file="/ca.pem", password="pw")
    assert ssl == {"bootstrap.servers": "127.0.0.1:1002", "security.protocol": "SSL",
                   "ssl.ca.location": "/ca.pem"}
    sasl = client_config(Case("SASL_PLAINTEXT", "PLAIN"), ADDRESSES, ca_file="/ca.pem",
                         password="pw")
    assert sasl == {"bootstrap.servers": "127.0.0.1:1003", "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": "PLAIN", "sasl.username": "bench", "sasl.password": "pw"}
    both = client_config(Case("SASL_SSL", "SCRAM-SHA-256"), ADDRESSES, ca_file="/ca.pem",
                         password="pw")
    assert both["bootstrap.servers"] == "127.0.0.1:1004"
    assert both["ssl.ca.location"] == "/ca.pem"
    assert both["sasl.mechanism"] == "SCRAM-SHA-256"


def test_the_cases_are_the_briefs_five_with_plaintext_first() -> None:
    """PLAINTEXT (the baseline), SSL, SASL_PLAINTEXT with SCRAM-SHA-256 and PLAIN, SASL_SSL."""
    assert [case.name for case in CASES] == [
        "PLAINTEXT", "SSL", "SASL_PLAINTEXT SCRAM-SHA-256", "SASL_PLAINTEXT PLAIN",
        "SASL_SSL SCRAM-SHA-256"]


def test_ratio_and_its_text() -> None:
    """value / baseline; missing or zero baseline gives None and `-`; three decimals below 0.1."""
    assert ratio(71.0, 100.0) == 0.71
    assert ratio(None, 100.0) is None
    assert ratio(5.0, None) is None
    assert ratio(5.0, 0.0) is None
    assert ratio_text(0.71) == "0.71x"
    assert ratio_text(1.5) == "1.50x"
    assert ratio_text(0.0456) == "0.046x"
    assert ratio_text(None) == "-"


def _results(produce: dict[str, float | None], connect: dict[str, float | None]
             ) -> dict[str, Any]:
    """One 100 B size; per case the produce records/s given (None: failed), consume 2x that;
    connect medians as given (None: failed)."""
    runs: dict[str, Any] = {}
    for name, value in produce.items():
        if value is None:
            runs[name] = {"error": "boom"}
            continue
        runs[name] = {phase: {"records_per_s": factor * value, "mb_per_s": factor * value / 1e4,
                              "server_cpu_s_per_million": 1.0}
                      for phase, factor in (("produce", 1), ("consume", 2))}
    return {"sizes": [{"value_size": 100, "records": 10}], "cases": list(produce),
            "runs": {"100": runs},
            "connect": {name: ({"error": "refused"} if ms is None else
                               {"median_ms": ms, "min_ms": ms, "max_ms": ms})
                        for name, ms in connect.items()}}


def test_summary_gives_each_case_over_plaintext_of_the_same_run() -> None:
    """SSL at 800 rec/s against PLAINTEXT's 1000 is 0.80x for produce and consume; its connect
    time 3 ms against 2 ms is 1.50x; a failed case shows `-` instead of a ratio."""
    results = _results({"PLAINTEXT": 1000.0, "SSL": 800.0, "SASL_PLAINTEXT PLAIN": None},
                       {"PLAINTEXT": 2.0, "SSL": 3.0, "SASL_PLAINTEXT PLAIN": None})
    assert summary_lines(results) == [
        "  SSL: produce 0.80x (100 B); consume 0.80x (100 B); connect 1.50x",
        "  SASL_PLAINTEXT PLAIN: produce - (100 B); consume - (100 B); connect -",
    ]
    rows = size_table(results, 100, 10).splitlines()
    assert rows[5].split() == ["SSL", "800", "0.08", "0.80x", "1.00", "1,600", "0.16", "0.80x",
                               "1.00"]
    assert rows[6].split()[2] == "FAILED"
    assert connect_table(results).splitlines()[3].split()[-1] == "1.50x"


def test_without_a_plaintext_figure_no_ratio_is_made_up() -> None:
    """If the baseline failed, every ratio is `-`, not a ratio against another case."""
    results = _results({"PLAINTEXT": None, "SSL": 800.0}, {"PLAINTEXT": None, "SSL": 3.0})
    assert summary_lines(results) == [
        "  SSL: produce - (100 B); consume - (100 B); connect -"]
