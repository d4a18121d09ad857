"""Account segmentation: a nightly batch ETL from CRM, accounts-receivable and
credit-bureau extracts to one published table of segmented B2B accounts."""

import warnings

# dagster-dbt requires `sqlglot[rs]`, whose Rust tokenizer package now warns on import
# that it is deprecated. It is not ours to fix and says nothing to our users.
warnings.filterwarnings("ignore", message="sqlglotrs is deprecated", category=DeprecationWarning)
