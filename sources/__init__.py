"""Connectors: bring deliveries from where a city publishes them into the `raw` layer, with lineage."""
