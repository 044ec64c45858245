"""What a KPI report is asked for: a period and the filters, and their SQL conditions."""

from dataclasses import dataclass

from .period import Period

DIMENSIONS = ("inbox", "channel", "team", "agent")


@dataclass(frozen=True)
class KpiQuery:
    period: Period
    inbox: int | None = None
    channel: str | None = None
    team: int | None = None
    agent: int | None = None
    live: bool = False  # bypass the rollups (tests, and checking them)

    def filters(self) -> dict:
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name) is not None}


def dimension_column(dimension: str, *, ticket_alias: str | None = None) -> str:
    """The column of a dimension in the rollup rows, or on inbox_ticket when aliased."""
    if ticket_alias:
        return f"{ticket_alias}.{'assignee' if dimension == 'agent' else dimension}" + (
            "" if dimension == "channel" else "_id")
    return dimension if dimension == "channel" else f"{dimension}_id"


def filters_sql(query: KpiQuery, *, ticket_alias: str | None = None) -> tuple[str, list]:
    """` AND column = %s` for each filter of `query`, and the values."""
    filters = query.filters()
    sql = "".join(f" AND {dimension_column(name, ticket_alias=ticket_alias)} = %s"
                  for name in filters)
    return sql, list(filters.values())
