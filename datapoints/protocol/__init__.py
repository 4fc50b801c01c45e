"""The OCPP 1.6J server: framing, validation, meaning checks, handlers, outgoing calls."""
