{#
    Generic test: returns the rows of `model` for which the boolean SQL
    `expression` is false (rows where it is null pass).
#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
