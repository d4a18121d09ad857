"""The rules configuration is validated before anything runs, with the key named."""

import pytest

from pipeline.config import ConfigError, load_config, ruleset_version


def _load(tmp_path, text):
    path = tmp_path / "candidate.yml"
    path.write_text(text)
    return load_config(path)


def test_defaults_hold_the_rules_document_values():
    config = load_config()
    assert config.general.base_currency == "EUR" and config.general.home_country == "NL"
    assert config.dimensions.value_tier.high_min_revenue == 100000
    assert config.dimensions.value_tier.medium_min_revenue == 10000
    assert config.dimensions.pareto_class.a_max_rank_share == 0.2
    assert "NO" in config.dimensions.region.countries["europe"]  # YAML must not read it as false
    assert config.gate.max_quarantined_account_share == 0.02 and config.gate.max_row_count_drop == 0.15


def test_overlay_changes_only_what_it_names(tmp_path):
    config = _load(tmp_path, "dimensions:\n  value_tier:\n    high_min_revenue: 250000\n")
    assert config.dimensions.value_tier.high_min_revenue == 250000
    assert config.dimensions.value_tier.medium_min_revenue == 10000
    assert ruleset_version(config) != ruleset_version(load_config())


def test_ruleset_version_ignores_key_order_and_the_schedule(tmp_path):
    same = _load(tmp_path, "gate:\n  max_row_count_drop: 0.15\ngeneral:\n  home_country: NL\n")
    assert ruleset_version(same) == ruleset_version(load_config())
    rescheduled = _load(tmp_path, "schedule:\n  cron: '30 3 * * *'\n")
    assert ruleset_version(rescheduled) == ruleset_version(load_config())


@pytest.mark.parametrize(
    "text, named",
    [
        ("dimensions:\n  value_tier:\n    high_min_revenue: lots\n", "dimensions.value_tier.high_min_revenue"),
        ("dimensions:\n  no_such_dimension: {}\n", "dimensions.no_such_dimension"),
        ("dimensions:\n  region:\n    countries: {mars: [NL]}\n", "dimensions.region"),
        ("dimensions:\n  region:\n    countries: {europe: [XX]}\n", "dimensions.region.countries.europe"),
        ("dimensions:\n  size_tier:\n    segments: [consumer, enterprise, mid_market, small, micro, nano]\n",
         "dimensions.size_tier.segments"),
        ("dimensions:\n  tenure:\n    segments: [prospect, new, existing, to_be_defined]\n", "dimensions.tenure.segments"),
        ("gate:\n  max_row_count_drop: 1.5\n", "gate.max_row_count_drop"),
        ("general:\n  timezone: Mars/Olympus\n", "general.timezone"),
    ],
)
def test_bad_configuration_is_refused_naming_the_key(tmp_path, text, named):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    assert named in str(error.value)


def test_cap_is_configurable_per_dimension(tmp_path):
    config = _load(
        tmp_path,
        "dimensions:\n  size_tier:\n    segment_cap: 6\n"
        "    segments: [consumer, enterprise, mid_market, small, micro, nano]\n",
    )
    assert len(config.dimensions.size_tier.segments) == 6


def test_missing_or_malformed_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.yml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        _load(tmp_path, "dimensions: [unclosed\n")


def test_history_and_capacity_defaults_are_those_of_issue_6():
    """At most 150 accounts and 15 key accounts per owner; a segment share moving more
    than 5 percentage points in one night is a warning."""
    config = load_config()
    assert (config.capacity.default.max_accounts, config.capacity.default.max_key_accounts) == (150, 15)
    assert config.capacity.key_account_stage == "key"
    assert config.gate.segment_share_move_warning == 0.05
