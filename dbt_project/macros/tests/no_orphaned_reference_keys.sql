{#
    Generic test: returns the rows of `model` whose non-null `column_name` has no
    row in the dimension `to` matching on `field`. For SCD2 dimensions pass
    `valid_from`, `valid_to` and `at` (a column of `model`): the dimension row must
    also be valid at that moment (valid_from <= at < valid_to).
#}
{% test no_orphaned_reference_keys(model, column_name, to, field, valid_from=none, valid_to=none, at=none) %}

with

referencing_rows as (

    select
        {{ column_name }} as reference_key
        {%- if at %},
        {{ at }} as referenced_at
        {%- endif %}
    from {{ model }}
    where {{ column_name }} is not null

),

dimension_rows as (

    select * from {{ to }}

),

rows_matched_to_dimension as (

    select
        referencing_rows.*,
        dimension_rows.{{ field }} as matched_key
    from referencing_rows
    left join dimension_rows
        on referencing_rows.reference_key = dimension_rows.{{ field }}
        {%- if at %}
        and referencing_rows.referenced_at >= dimension_rows.{{ valid_from }}
        and referencing_rows.referenced_at < dimension_rows.{{ valid_to }}
        {%- endif %}

)

select *
from rows_matched_to_dimension
where matched_key is null

{% endtest %}
