{#- Every row of the overrides file with its verdict (rules document, "Overrides"):
    `applied`, `expired` (valid_until before D), or `invalid: <why>` — an unknown or
    non-overridable dimension, a segment not declared for it (to_be_defined is not
    one), an account that is not published, an unreadable valid_until, or two or more
    otherwise valid rows for one account and dimension (all of them invalid).
    Overridable dimensions are the segment dimensions of the configuration. -#}
{%- set dimensions = cfg('dimensions') or {} -%}

with overrides as (
    select * from {{ ref('stg_manual__overrides') }}
),

declared_segments as (
    {%- for dimension, settings in dimensions.items() %}
    {%- for segment in settings['segments'] %}
    select {{ sql_string(dimension) }} as dimension, {{ sql_string(segment) }} as segment
    {{ 'union all' if not (loop.last) }}
    {%- endfor %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
    {%- if not dimensions %}
    select cast(null as {{ dbt.type_string() }}) as dimension, cast(null as {{ dbt.type_string() }}) as segment where false
    {%- endif %}
),

published_accounts as (
    select account_id from {{ ref('int_accounts__enriched') }}
),

checked as (
    select
        overrides.*,
        declared_segments.segment as declared_segment,
        case
            when overrides.invalid_columns is not null then concat_ws('', 'invalid: unreadable ', overrides.invalid_columns)
            when overrides.account_id is null then 'invalid: missing account_id'
            when overrides.dimension is null then 'invalid: missing dimension'
            when overrides.dimension not in (select dimension from declared_segments)
                then concat_ws('', 'invalid: ', overrides.dimension, ' is not an overridable segment dimension')
            when declared_segments.segment is null
                then concat_ws('', 'invalid: ', coalesce(overrides.segment, 'an empty segment'),
                            ' is not a declared segment of ', overrides.dimension)
            when published_accounts.account_id is null
                then concat_ws('', 'invalid: account ', overrides.account_id, ' is not published')
            when overrides.valid_until < {{ as_of_date() }} then 'expired'
        end as problem
    from overrides
    left join declared_segments
        on overrides.dimension = declared_segments.dimension
        and lower(overrides.segment) = lower(declared_segments.segment)
    left join published_accounts
        on overrides.account_id = published_accounts.account_id
)

select
    account_id,
    dimension,
    -- the declared spelling of the segment (e.g. pareto class `A`)
    coalesce(declared_segment, segment) as segment,
    reason,
    owner,
    valid_until,
    _file_name,
    _row_number,
    case
        when problem is not null then problem
        when count(*) over (partition by account_id, dimension, problem is null) > 1
            then 'invalid: several valid overrides for this account and dimension'
        else 'applied'
    end as status
from checked
