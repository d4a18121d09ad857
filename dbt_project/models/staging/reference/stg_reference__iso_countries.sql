select upper(trim(country_code)) as country_code
from {{ source('reference', 'iso_countries') }}
