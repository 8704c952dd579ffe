{#
    Returns the schema a node is built in: its configured custom schema as-is
    (staging, curation, consumer, dimensions, snapshots, control), or the target's
    schema when none is set. dbt's default would prefix it with the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
