"""`sidecart matrix`: which rows it runs and the table it prints."""

from __future__ import annotations

from sidecart import matrix, profiles


def test_rows_are_the_default_matrix_a_list_or_every_combination() -> None:
    assert matrix.selected(None) == profiles.matrix_profiles()
    assert matrix.selected("redis kafka,postgres") == [
        profiles.Profile(),
        profiles.Profile("kafka", "postgres"),
    ]
    assert len(matrix.selected("all")) == len(profiles.all_profiles())


def test_the_table_has_one_row_per_profile_with_result_and_duration() -> None:
    rows = [
        matrix.Row(profiles.Profile(), "passed", "7 passed", 41.2),
        matrix.Row(profiles.parse("names=consul"), "not runnable", "no agent", 0.0),
        matrix.Row(profiles.parse("kafka,postgres"), "failed", "1 failed, 6 passed", 90.0),
    ]
    lines = matrix.table(rows).splitlines()
    assert lines[0].split() == ["profile", "result", "duration", "tests"]
    assert lines[2].split() == ["redis", "passed", "41s", "7", "passed"]
    assert lines[3].startswith("names=consul") and " - " in lines[3]
    assert lines[4].split()[:3] == ["kafka,postgres", "failed", "90s"]
    assert [r.ok for r in rows] == [True, True, False]


def test_a_not_runnable_profile_is_a_row_not_a_failure() -> None:
    row = matrix.run_row(profiles.parse("names=consul"), [], bootstrap=False, out=None)  # type: ignore[arg-type]
    assert row.result == "not runnable" and row.ok
    assert "Consul" in row.detail
