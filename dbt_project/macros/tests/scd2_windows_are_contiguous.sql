{#
    Generic test: returns SCD2 versions of one key (`column_name`) whose validity
    window is empty, or does not end exactly where the next version starts.
#}
{% test scd2_windows_are_contiguous(model, column_name, valid_from, valid_to) %}

with

versions_with_next as (

    select
        {{ column_name }} as scd2_key,
        {{ valid_from }} as valid_from,
        {{ valid_to }} as valid_to,
        lead({{ valid_from }}) over (
            partition by {{ column_name }}
            order by {{ valid_from }}
        ) as next_valid_from
    from {{ model }}

)

select *
from versions_with_next
where
    valid_from >= valid_to
    or (next_valid_from is not null and next_valid_from != valid_to)

{% endtest %}
