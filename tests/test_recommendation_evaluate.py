"""Tests for the offline evaluation: metrics, the leave-one-out split and the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from personalize.recommendations.evaluate import (
    Metrics,
    Progress,
    Row,
    evaluate,
    evaluate_recommendations,
    leave_one_out,
    main,
    parse_timestamp,
)

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def known_log() -> str:
    """A log whose right answers are known.

    Whoever views the kettle views the teapot next, in the same visit: t1 and t2 did
    (their held-out cup is never in training), and the held-out interaction of k1 and
    k2 is that teapot. The mug and the spoon are the most viewed items, so popularity
    recommends them and misses. m1's held-out mug repeats its history. Ten one-off
    users of filler items make the catalogue big enough for BM25's idf to be positive.
    """
    lines = ["user_id,item_id,timestamp,category,ignored"]

    def add(user: str, item: str, when: str) -> None:
        lines.append(f"{user},{item},{when},kitchen,x")

    add("k1", "kettle", "2025-01-01T10:00:00Z")
    add("k1", "teapot", "2025-01-01T10:05:00Z")
    add("k2", "kettle", "1735725600")  # unix seconds
    add("k2", "teapot", "1735725900")
    for user in ("t1", "t2"):
        add(user, "kettle", "2025-01-02 10:00:00")  # naive ISO-8601: UTC
        add(user, "teapot", "2025-01-02 10:01:00")
        add(user, "cup", "2025-01-02 10:02:00")
    add("m1", "mug", "2025-01-01T08:00:00Z")
    add("m1", "mug", "2025-01-01T08:01:00Z")
    for n in range(2, 7):
        add(f"m{n}", "mug", "2025-01-01T09:00:00Z")
    for n in range(1, 7):
        add(f"s{n}", "spoon", "2025-01-01T09:00:00Z")
    for n in range(10):
        add(f"f{n}", f"filler{n}", "2024-12-01T00:00:00Z")
    add("solo", "kettle", "2025-01-01T08:00:00Z")
    return "\n".join(lines) + "\n"


# --- metrics -----------------------------------------------------------------------------


def test_metrics_on_a_hand_computed_case() -> None:
    recommendations = {
        "hit first": ["A", "B", "C"],
        "hit third": ["B", "C", "D"],
        "miss": ["A", "B", "C"],
        # "nothing" has no recommendations: a miss.
    }
    held_out = {"hit first": "A", "hit third": "D", "miss": "Z", "nothing": "A"}
    metrics = evaluate_recommendations(recommendations, held_out, k=3, catalogue_size=8)
    assert metrics.hit_rate == 2 / 4
    # NDCG: rank 1 gains 1 / log2(2) = 1, rank 3 gains 1 / log2(4) = 0.5.
    assert metrics.ndcg == pytest.approx((1 + 0.5) / 4)
    assert metrics.coverage == 4 / 8  # A, B, C, D of 8 items


def test_metrics_count_only_the_first_k_recommendations() -> None:
    metrics = evaluate_recommendations({"u": ["A", "B", "C"]}, {"u": "C"}, k=2, catalogue_size=3)
    assert metrics == Metrics(0.0, 0.0, 2 / 3)
    assert evaluate_recommendations({}, {}, k=2, catalogue_size=0) == Metrics(0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1735725600", 1735725600.0),
        ("1735725600.5", 1735725600.5),
        ("2025-01-01T10:00:00Z", 1735725600.0),
        ("2025-01-01T11:00:00+01:00", 1735725600.0),
        ("2025-01-01 10:00:00", 1735725600.0),  # naive: UTC
    ],
)
def test_parse_timestamp_reads_unix_seconds_and_iso_8601(text: str, seconds: float) -> None:
    assert parse_timestamp(text) == seconds


@pytest.mark.parametrize("text", ["yesterday", "nan", "inf", "2025-13-01"])
def test_parse_timestamp_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


# --- the leave-one-out split -------------------------------------------------------------


def test_leave_one_out_breaks_timestamp_ties_by_file_order() -> None:
    rows = [Row("u", "A", 100.0), Row("u", "C", 200.0), Row("u", "B", 200.0)]
    split = leave_one_out(rows)
    assert split.held_out["u"].item_id == "B"  # the later row of the tie
    assert [row.item_id for row in split.histories["u"]] == ["A", "C"]
    assert leave_one_out(rows[::-1]).held_out["u"].item_id == "C"


def test_leave_one_out_skips_users_with_one_interaction_but_trains_on_it() -> None:
    rows = [Row("solo", "A", 1.0), Row("u", "B", 2.0), Row("u", "A", 1.0)]
    split = leave_one_out(rows)
    assert list(split.held_out) == ["u"]
    assert split.held_out["u"].item_id == "B"  # sorted by time, not file position
    assert sorted(row.item_id for row in split.train) == ["A", "A"]
    assert split.items == 2


# --- the command line --------------------------------------------------------------------


def test_cli_evaluates_a_good_file_and_writes_the_exact_json_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    status, stdout, stderr = run(
        capsys, "--interactions", str(write(tmp_path, known_log())), "--k", "2", "--json", str(out)
    )
    assert status == 0, stderr
    data = json.loads(out.read_text())
    assert list(data) == ["k", "users", "results"]
    assert data["k"] == 2
    assert data["users"] == 5  # k1, k2, t1, t2, m1; one-interaction users are skipped
    assert next(iter(data["results"])) == "popularity"
    assert set(data["results"]) == {
        "popularity",
        "trending",
        "similar_items",
        "viewed_together",
        "personalised",
        "category_popularity",  # the file has a category column
    }
    for metrics in data["results"].values():
        assert list(metrics) == ["hit_rate", "ndcg", "coverage"]
    # Item-item strategies hit k1's and k2's teapot at rank 1; nobody else is hittable.
    for strategy in ("similar_items", "viewed_together", "personalised"):
        assert data["results"][strategy] == {
            "hit_rate": 0.4,
            "ndcg": 0.4,
            # Only the teapot is ever recommended: m1's mug has no neighbours.
            "coverage": pytest.approx(1 / 15),
        }, strategy
    # Popularity recommends the mug and the spoon (m1, who saw the mug: spoon, kettle).
    assert data["results"]["popularity"]["hit_rate"] == 0.0
    assert "hit rate@2" in stdout and "similar_items" in stdout
    assert "1 users' held-out item was already in their training history" in stdout
    assert "2 users' held-out item never occurs in training" in stdout
    assert "training on" in stderr and "scoring personalised for 5 users" in stderr


def test_cli_reports_bad_rows_with_line_numbers_and_skips_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = """
user_id,item_id,timestamp
a,A,1
a,B,2
b,A,next tuesday
,B,5
b,,5
b

b,A,3
b,B,4
"""
    status, stdout, stderr = run(capsys, "--interactions", str(write(tmp_path, log)))
    assert status == 0
    assert "line 4: bad timestamp 'next tuesday' (expected ISO-8601 or unix seconds)" in stderr
    assert "line 5: missing user_id; skipped" in stderr
    assert "line 6: missing item_id; skipped" in stderr
    assert "line 7: missing item_id; skipped" in stderr
    assert "skipped 4 bad row(s) of 8" in stderr
    assert "over 2 users and 2 items" in stdout


def test_cli_summarises_bad_rows_beyond_the_first_twenty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = known_log() + "u,i,never\n" * 25
    status, _, stderr = run(capsys, "--interactions", str(write(tmp_path, log)))
    assert status == 0
    assert stderr.count("bad timestamp") == 20
    assert "... and 5 more bad rows skipped" in stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user_id,item_id,time\nu,i,1\n", "lacks required column(s) timestamp (found: "),
        ("item_id\nA\n", "lacks required column(s) user_id, timestamp"),
        ("", "is empty"),
        ("user_id,item_id,timestamp\nu,A,1\nv,A,2\n", "nothing to evaluate"),
    ],
)
def test_cli_exits_2_with_a_clear_message_when_it_cannot_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    status, stdout, stderr = run(capsys, "--interactions", str(write(tmp_path, text)))
    assert status == 2
    assert message in stderr
    assert stdout == ""


def test_cli_exits_2_for_a_missing_or_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, stderr = run(capsys, "--interactions", str(tmp_path / "nope.csv"))
    assert status == 2 and "cannot read" in stderr
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"user_id,item_id,timestamp\n\xff\xfe,\x00\n")
    status, _, stderr = run(capsys, "--interactions", str(binary))
    assert status == 2 and "not a readable CSV file" in stderr


def test_cli_exits_2_when_it_cannot_write_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path, known_log())
    target = tmp_path / "missing-directory" / "out.json"
    status, stdout, stderr = run(capsys, "--interactions", str(log), "--json", str(target))
    assert status == 2 and "cannot write" in stderr
    assert "similar_items" in stdout  # the table was still printed


def test_cli_rejects_a_k_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--interactions", "x.csv", "--k", "0"])
    assert exit_info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_cli_generates_a_seeded_log_that_item_item_strategies_learn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "synthetic.csv"
    status, stdout, _ = run(
        capsys, "--generate", str(path), "--users", "400", "--items", "200", "--seed", "3"
    )
    assert status == 0 and "interactions of 400 users over 200 items" in stdout
    first = path.read_text()
    assert first.splitlines()[0] == "user_id,item_id,timestamp,category"
    run(capsys, "--generate", str(path), "--users", "400", "--items", "200", "--seed", "3")
    assert path.read_text() == first
    out = tmp_path / "results.json"
    status, _, _ = run(capsys, "--interactions", str(path), "--json", str(out))
    results = json.loads(out.read_text())["results"]
    baseline = results["popularity"]["hit_rate"]
    for strategy in ("similar_items", "viewed_together", "personalised"):
        assert results[strategy]["hit_rate"] > 2 * baseline, strategy


def test_cli_generate_needs_two_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, stderr = run(capsys, "--generate", str(tmp_path / "x.csv"), "--items", "1")
    assert status == 2 and "--items must be at least 2" in stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_users_live_on_a_terminal(tmp_path: Path) -> None:
    rows = [Row(f"u{n}", item, float(t)) for n in range(600) for t, item in enumerate("AB")]
    stream = Terminal()
    report = evaluate(leave_one_out(rows), k=1, progress=Progress(stream))
    assert report.users == 600
    output = stream.getvalue()
    assert "\r  similar_items: 500/600 users" in output
    assert "\r  similar_items: 600/600 users\n" in output
    assert "scoring personalised for 600 users" in output


def test_module_runs_as_a_script(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "personalize.recommendations.evaluate", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0
    assert "--interactions" in completed.stdout
