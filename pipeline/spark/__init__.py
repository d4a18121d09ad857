"""The Spark target (`segmentation run --target spark`, SEGMENTATION_TARGET=spark).

The dbt models are the same on both engines (engine-specific SQL sits behind
adapter.dispatch macros in dbt_project/macros/cross_db.sql); what differs is the
Python side, which lives here:

- session.py  the SparkSession of the pipeline, configured from the same
              `server_side_parameters` as dbt's `spark` target (one catalog);
- worker.py   one helper process that holds that session while the pipeline needs
              Spark (the embedded Derby metastore admits one JVM at a time, and dbt
              runs in its own JVM);
- ingest.py   the landing files read by Spark into `raw.*` (same discovery, header
              checks, CSV dialect and layout as pipeline/ingest), plus run_context,
              the ISO country reference and the previous publication;
- publish.py  write-audit-publish on the catalog: stage the marts as
              `analytics_<run>.<table>`, audit them (great-expectations on Spark and
              the gate's SQL checks), then re-point the `analytics.<table>` views.
"""
