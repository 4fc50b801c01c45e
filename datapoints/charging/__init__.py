"""Charging control (issue 9): Config.MaxCurrent and the site limit, applied as charging profiles.

  profiles.py    the SetChargingProfile payloads, rate units, amps -> watts
  apply.py       what a charger gets and the fallback ladder of profile kinds (State.MaxCurrent*)
  site_limit.py  a site's max current shared among its charging connectors

See docs/charging.md for operators and docs/decisions/ for why it works this way.
"""
