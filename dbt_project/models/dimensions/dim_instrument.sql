with

instruments as (

    select * from {{ ref('stg_reference__instruments') }}

),

-- SCD1: the latest delivered attributes of every instrument ever delivered.
instrument_attributes_selected as (

    select
        -- ids
        isin,
        cusip,
        primary_mic,

        -- strings
        instrument_name,
        asset_class,
        currency,

        -- timestamps
        as_of_date,
        _business_date as source_business_date

    from instruments

)

select * from instrument_attributes_selected
