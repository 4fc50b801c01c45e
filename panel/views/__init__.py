"""The panel's views, one module per page: fleet (the overview), charge_point (one charger's page),
console (commands), and the pages that list things (schedules, audit, messages, sites)."""
