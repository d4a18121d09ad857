{#- Helpers of the credit-management models (issue 4). Configuration still reaches
    SQL only through macros/config.sql; these only spell recurring expressions once. -#}

{#- Money as an exact decimal, so that "cumulative payments reach the settlement
    amount" compares exact values (binary floating point could miss by 1e-13). -#}
{% macro credit_money(expression) -%}
    cast({{ expression }} as decimal(18, 6))
{%- endmacro %}


{#- Whole days from `column` to the as-of date D (positive when the date is before D). -#}
{% macro credit_days_before_as_of(column) -%}
    {{ dbt.datediff(column, as_of_date(), 'day') }}
{%- endmacro %}


{#- true when `column` lies in (D - days, D]; `days` is a rendered number. -#}
{% macro credit_in_window(column, days) -%}
    ({{ credit_days_before_as_of(column) }} >= 0 and {{ credit_days_before_as_of(column) }} < {{ days }})
{%- endmacro %}


{#- The day after the next occurrence of `pay_day` (day of month) on or after
    `from_date`; pay day `month_end_day` (the cap, 28 by default) stands for the
    month's last day. Null when pay_day is null. -#}
{% macro credit_day_after_next_pay_day(pay_day, from_date, month_end_day) -%}
    case
        when {{ pay_day }} is null then cast(null as date)
        when {{ pay_day }} >= {{ month_end_day }}
            -- the month's last day is always on or after from_date: act on the 1st of the next month
            then cast({{ dbt.dateadd('day', 1, dbt.last_day(from_date, 'month')) }} as date)
        when {{ dbt.dateadd('day', pay_day ~ ' - 1', dbt.date_trunc('month', from_date)) }} >= {{ from_date }}
            then cast({{ dbt.dateadd('day', pay_day, dbt.date_trunc('month', from_date)) }} as date)
        else cast({{ dbt.dateadd('day', pay_day, dbt.dateadd('month', 1, dbt.date_trunc('month', from_date))) }} as date)
    end
{%- endmacro %}
