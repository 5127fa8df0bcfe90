"""Connectors: bring deliveries from where a city publishes them into the `raw` layer, with lineage."""


class NotDeliveredYet(LookupError):
    """The source has nothing for the interval asked yet (a month not published, a day with no readings): the
    run is skipped, not failed and retried; it is picked up by a later run or a backfill once delivered."""
