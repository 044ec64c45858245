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
