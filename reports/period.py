"""A report period: `start..end` local dates in an IANA time zone (SPEC §7)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_DAYS = 366


class PeriodError(ValueError):
    """Bad period input; `fields` maps each parameter to what is wrong with it."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    tz: str = "UTC"

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def midnight(self, day: date) -> datetime:
        """The UTC instant of `day` 00:00 in the report time zone."""
        return datetime.combine(day, time(), tzinfo=self.zone).astimezone(UTC)

    @property
    def since(self) -> datetime:
        return self.midnight(self.start)

    @property
    def until(self) -> datetime:
        """Exclusive end: the midnight after `end`."""
        return self.midnight(self.end + timedelta(days=1))

    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        length = self.end - self.start + timedelta(days=1)
        return Period(start=self.start - length, end=self.end - length, tz=self.tz)


def period_parse(*, start: str | None, end: str | None, tz: str | None,
                 max_days: int | None = MAX_DAYS) -> Period:
    errors: dict[str, list[str]] = {}
    dates = {}
    for name, text in (("start", start), ("end", end)):
        if not text:
            errors[name] = ["Required (YYYY-MM-DD)."]
            continue
        try:
            dates[name] = date.fromisoformat(text)
        except ValueError:
            errors[name] = [f"{text!r} is not a date (YYYY-MM-DD)."]
    tz = tz or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errors["tz"] = [f"{tz!r} is not an IANA time zone name."]
    if not errors and dates["end"] < dates["start"]:
        errors["end"] = ["Must not be before start."]
    elif max_days and not errors and (dates["end"] - dates["start"]).days + 1 > max_days:
        errors["end"] = [f"A period covers at most {max_days} days."]
    if errors:
        raise PeriodError(errors)
    return Period(start=dates["start"], end=dates["end"], tz=tz)
