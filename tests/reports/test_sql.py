import pytest

from reports.sql import fetch_all, is_postgres, json_int, json_text, local_date, local_hour


@pytest.mark.django_db
def test_json_keys_read_as_text_and_integer():
    data = "CAST(%s AS jsonb)" if is_postgres() else "%s"
    row = fetch_all(f"SELECT {json_text(data, 'kind')}, {json_int(data, 'score')}, "
                    f"{json_int(data, 'missing')}",
                    ['{"kind": "nps", "score": 9}'] * 3)
    assert row == [("nps", 9, None)]


@pytest.mark.parametrize("helper", [local_date, local_hour])
@pytest.mark.parametrize("tz", ["UTC'; DROP TABLE inbox_ticket; --", "Asia/Jakarta ", ""])
def test_a_zone_that_is_not_a_plain_name_never_reaches_the_sql(helper, tz):
    with pytest.raises(ValueError, match="bad time zone name"):
        helper("created_at", tz)


@pytest.mark.django_db
def test_duration_buckets_are_ordered_like_the_durations():
    from reports.sql import duration_bucket

    per_second = 1_000_000 if is_postgres() else 1000
    units = [-5 * per_second, 0, 1, per_second // 2, per_second, 7 * per_second,
             3600 * per_second, 3600 * per_second + 1, 86400 * 30 * per_second]
    bucket = duration_bucket("%s", per_second)
    buckets = [fetch_all(f"SELECT {bucket}", [value, value])[0][0] for value in units]
    assert buckets[:3] == [-1, 0, 0]
    assert buckets == sorted(buckets)
    # floor(16 × ln(1 + seconds)): 1 s → 11, 1 h → 131, 30 days → 236.
    assert (buckets[4], buckets[6], buckets[8]) == (11, 131, 236)
